import fs from 'node:fs';
import path from 'node:path';
// `switchyard lab ...`: the namespace lab's command line. runLabCommand(argv)
// takes the arguments after `lab` and returns the exit code.
import { stringify as toYAML } from 'yaml';
import { execInteractive, netnsExists } from '../netns/ip.js';
import { DEFAULT_LAB_NAME, DEFAULT_NODE_COUNT, NETNS_ANNOTATION, isLabNamespace, parseLabIPFamily, parseLinkMtu, podNetnsName, type LabIPFamily } from '../netns/plan.js';
import type { LabConfig } from '../netns/layout.js';
import { restartAgents } from './restart-agents.js';
import { apiServerCommand } from './apiserver.js';
import { nodeCgroupDir } from '../netns/cgroups.js';
import { LabError, labClient, type LabClient } from './api-client.js';
import { runCleanupCommand } from './cleanup.js';
import { labDown, labInfo, labLogs, labStatus, labUp } from './lifecycle.js';
import { labKubectl } from './kubectl.js';
import { applyObjects, deleteObjects, deleteOne, parseManifests, readSource, scale } from './manifests.js';
import { collectionPath, objectPath, resolveKind, KINDS } from './resources.js';
import { renderTable } from './tables.js';
import { waitReady } from './wait.js';

export const LAB_USAGE = `usage: switchyard lab <command> [--name LAB] ...
  up [--nodes N] [--mode ebpf|iptables|auto] [--agent-arg=ARG]... [--no-agents] [--timeout S] [--keep-on-failure]
                                  create the lab (default name "${DEFAULT_LAB_NAME}", ${DEFAULT_NODE_COUNT} nodes) and start its daemon
     [--link-mtu node<i>=MTU]...  node i's underlay link gets that MTU (576..1500); the other nodes'
                                  routes to it carry it (locked), as a router would teach them
     [--ip-family ipv4|ipv6|dual] address families of nodes, pods, Services and the external client
                                  (default ipv4; ipv6 and dual add fd00::/8 addresses, dual is IPv4-primary)
  down                            stop everything and delete the lab
  status [-o json]                daemon, nodes, agents, pods
  apply -f FILE|- [-n NS]         create or replace the objects of a (multi-document) YAML manifest
  delete -f FILE|- [-n NS] [--ignore-not-found]
  delete KIND NAME [-n NS]        delete objects
  scale KIND/NAME N [-n NS]       deployment, replicaset or replicationcontroller
  get KIND [NAME] [-o json|yaml|wide] [-n NS | -A] [-l SELECTOR]
                                  kinds: ${KINDS.map((k) => k.resource).join(', ')} (and short names)
  exec POD [-n NS] -- CMD...      run CMD in a pod's network namespace
  exec --node NAME -- CMD...      ... in a node's namespace (--external: the external client, --cp: the control plane)
  set-ready POD true|false [-n NS]
  restart-agents [--mode ebpf|iptables|auto] [--agent-arg=ARG]... [--timeout S]
  upgrade-loaders --binary PATH   restart every loader with another build (the supervisor starts PATH)
  apiserver stop|start [--expire-watches]|stall-watches|status
                                  take the API server away from the nodes and bring it back (objects kept;
                                  --expire-watches: resumed watches get 410 Gone); stall-watches: open watches
                                  stop delivering without closing
  wait-ready [--timeout S]        all pods Ready and every selector Service's slices current
  logs daemon|NODE|NODE-loader|POD [--tail N] [-n NS]
  kubectl [--name LAB] ARGS...    the machine's kubectl against the lab (its kubeconfig, from the control plane)
  cleanup [--stale]               remove what labs left behind (all labs, or --name; --stale: only labs whose daemon is gone)`;

interface Parsed {
  flags: Map<string, string[]>;
  positional: string[];
  /** Everything after "--". */
  rest: string[] | undefined;
}

type FlagKind = 'bool' | 'value';

const COMMON: Record<string, FlagKind> = { '--name': 'value', '-n': 'value', '--namespace': 'value', '-h': 'bool', '--help': 'bool' };

function parse(argv: string[], spec: Record<string, FlagKind>): Parsed {
  const all = { ...COMMON, ...spec };
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  let rest: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const kind = all[name];
      if (!kind) throw new LabError(`unknown option ${name}\n${LAB_USAGE}`, 2);
      let value = 'true';
      if (kind === 'value') {
        if (eq > 0) value = a.slice(eq + 1);
        else {
          const v = argv[++i];
          if (v === undefined) throw new LabError(`option ${name} needs a value`, 2);
          value = v;
        }
      }
      const key = name === '--namespace' ? '-n' : name === '--help' ? '-h' : name;
      flags.set(key, [...(flags.get(key) ?? []), value]);
      continue;
    }
    positional.push(a);
  }
  return { flags, positional, rest };
}

function flag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

function has(p: Parsed, name: string): boolean {
  return p.flags.has(name);
}

function num(text: string | undefined, what: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v < min || v > max) throw new LabError(`bad ${what} ${JSON.stringify(text)}`, 2);
  return v;
}

const out = (line: string): void => {
  process.stdout.write(line.endsWith('\n') ? line : `${line}\n`);
};

async function cmdGet(client: LabClient, p: Parsed): Promise<number> {
  const [kindWord, name] = p.positional;
  if (!kindWord) throw new LabError(`get: which kind? (${KINDS.map((k) => k.resource).join(', ')})`, 2);
  const kind = resolveKind(kindWord);
  if (!kind) throw new LabError(`get: unknown kind ${JSON.stringify(kindWord)} (${KINDS.map((k) => k.resource).join(', ')})`, 2);
  const output = flag(p, '-o');
  if (output !== undefined && !['json', 'yaml', 'wide', 'name'].includes(output)) throw new LabError(`get: unsupported output ${output} (json, yaml, wide, name)`, 2);
  const all = has(p, '-A');
  const ns = flag(p, '-n') ?? 'default';
  if (name !== undefined) {
    const obj = await client.getOptional<Record<string, any>>(objectPath(kind, ns, name));
    if (!obj) {
      process.stderr.write(`Error from server (NotFound): ${kind.resource} "${name}" not found\n`);
      return 1;
    }
    obj['apiVersion'] ??= kind.apiVersion;
    obj['kind'] ??= kind.kind;
    // -o json|yaml always print a v1 List, a named get included (one item), so
    // scripts read `.items` whatever they asked for.
    const one = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: [obj] };
    if (output === 'json') out(JSON.stringify(one, null, 4));
    else if (output === 'yaml') out(toYAML(one));
    else if (output === 'name') out(`${kind.display}/${name}`);
    else out(renderTable(kind, [obj], { wide: output === 'wide', allNamespaces: false }));
    return 0;
  }
  let path = collectionPath(kind, all ? undefined : ns);
  const selector = flag(p, '-l');
  if (selector !== undefined) path += `?labelSelector=${encodeURIComponent(selector)}`;
  const list = await client.get<{ items?: Array<Record<string, any>> }>(path);
  const items: Array<Record<string, any>> = (list.items ?? []).map((o) => ({ apiVersion: kind.apiVersion, kind: kind.kind, ...o }));
  items.sort((a, b) => `${a['metadata']?.['namespace'] ?? ''}/${a['metadata']?.['name'] ?? ''}`.localeCompare(`${b['metadata']?.['namespace'] ?? ''}/${b['metadata']?.['name'] ?? ''}`));
  const listDoc = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
  if (output === 'json') out(JSON.stringify(listDoc, null, 4));
  else if (output === 'yaml') out(toYAML(listDoc));
  else if (output === 'name') for (const o of items) out(`${kind.display}/${o['metadata']?.['name']}`);
  else if (items.length === 0) {
    process.stderr.write(kind.namespaced && !all ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
  } else out(renderTable(kind, items, { wide: output === 'wide', allNamespaces: all }));
  return 0;
}

async function cmdExec(name: string, p: Parsed): Promise<number> {
  let argv = p.rest ?? [];
  let netns: string;
  let cgroupNode: string | undefined;
  const node = flag(p, '--node');
  if (has(p, '--external') || has(p, '--cp') || node !== undefined) {
    if (p.rest === undefined) argv = p.positional;
    else if (p.positional.length > 0) throw new LabError(`exec: unexpected ${p.positional.join(' ')} before --`, 2);
    const info = await labInfo(name);
    if (has(p, '--external')) netns = info.external.netns;
    else if (has(p, '--cp')) netns = info.controlPlane.netns;
    else {
      const n = info.nodes.find((x) => x.name === node);
      if (!n) throw new LabError(`exec: no node ${node} (nodes: ${info.nodes.map((x) => x.name).join(', ')})`);
      netns = n.netns;
      cgroupNode = n.name;
    }
  } else {
    const [pod, ...more] = p.positional;
    if (!pod) throw new LabError('exec: which pod? (exec POD -- CMD..., exec --node NAME -- CMD..., exec --external -- CMD...)', 2);
    if (p.rest === undefined) argv = more;
    else if (more.length > 0) throw new LabError(`exec: unexpected ${more.join(' ')} before --`, 2);
    const ns = flag(p, '-n') ?? 'default';
    netns = await podNetns(name, ns, pod);
    cgroupNode = await podNode(name, ns, pod);
  }
  if (argv.length === 0) throw new LabError('exec: no command given (exec TARGET -- CMD...)', 2);
  if (!isLabNamespace(name, netns) || !netnsExists(netns)) throw new LabError(`exec: namespace ${netns} does not exist`);
  // Processes of a node (host processes and pods) run in the node's cgroup.
  const cg = cgroupNode ? nodeCgroupDir(name, cgroupNode) : undefined;
  return execInteractive(netns, argv, cg && fs.existsSync(cg) ? cg : undefined);
}

async function podNode(name: string, namespace: string, pod: string): Promise<string | undefined> {
  const obj = await labClient(name).getOptional<Record<string, any>>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`);
  return obj?.spec?.nodeName as string | undefined;
}

async function podNetns(name: string, namespace: string, pod: string): Promise<string> {
  const client = labClient(name);
  const obj = await client.getOptional<Record<string, any>>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`);
  if (!obj) throw new LabError(`Error from server (NotFound): pods "${pod}" not found in namespace ${namespace}`);
  const annotated = obj['metadata']?.['annotations']?.[NETNS_ANNOTATION];
  if (typeof annotated === 'string' && annotated) return annotated;
  const info = await labInfo(name);
  const rec = info.pods[`${namespace}/${pod}`];
  if (rec) return rec.netns;
  const guess = podNetnsName(name, namespace, pod);
  if (netnsExists(guess)) return guess;
  throw new LabError(`pod ${namespace}/${pod} has no network namespace yet (phase ${obj['status']?.['phase'] ?? 'Pending'}, node ${obj['spec']?.['nodeName'] ?? 'none'})`);
}

async function cmdSetReady(client: LabClient, p: Parsed): Promise<number> {
  const [pod, value] = p.positional;
  if (!pod || (value !== 'true' && value !== 'false')) throw new LabError('set-ready POD true|false [-n NS]', 2);
  const ns = flag(p, '-n') ?? 'default';
  await client.call('PUT', `/lab/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/readiness`, { ready: value === 'true' });
  out(`pod/${pod} readiness set to ${value}`);
  return 0;
}

export async function runLabCommand(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  try {
    switch (cmd) {
      case 'up': {
        const p = parse(args, { '--nodes': 'value', '--mode': 'value', '--no-agents': 'bool', '--timeout': 'value', '--keep-on-failure': 'bool', '--agent-arg': 'value', '--link-mtu': 'value', '--ip-family': 'value' });
        if (has(p, '-h')) return usage(0);
        if (p.positional.length > 0) throw new LabError(`up: unexpected ${p.positional.join(' ')}`, 2);
        const mode = flag(p, '--mode') ?? 'ebpf';
        if (!['ebpf', 'iptables', 'auto'].includes(mode)) throw new LabError(`up: --mode must be ebpf, iptables or auto`, 2);
        const agents = !has(p, '--no-agents');
        const nodes = num(flag(p, '--nodes'), 'node count', 1, 100) ?? DEFAULT_NODE_COUNT;
        const linkMtu = new Map<number, number>();
        for (const spec of p.flags.get('--link-mtu') ?? []) {
          try {
            const [i, mtu] = parseLinkMtu(spec, nodes);
            linkMtu.set(i, mtu);
          } catch (err) {
            throw new LabError(`up: ${(err as Error).message}`, 2);
          }
        }
        let ipFamily: LabIPFamily;
        try {
          ipFamily = parseLabIPFamily(flag(p, '--ip-family') ?? 'ipv4');
        } catch (err) {
          throw new LabError(`up: ${(err as Error).message}`, 2);
        }
        return await labUp({
          name: flag(p, '--name') ?? DEFAULT_LAB_NAME,
          nodes,
          linkMtu,
          ipFamily,
          mode: mode as LabConfig['mode'],
          agents,
          agentArgs: p.flags.get('--agent-arg') ?? [],
          timeoutMs: (num(flag(p, '--timeout'), 'timeout', 1, 3600) ?? (agents ? 120 : 60)) * 1000,
          keepOnFailure: has(p, '--keep-on-failure'),
          out,
        });
      }
      case 'down': {
        const p = parse(args, {});
        return await labDown(flag(p, '--name') ?? DEFAULT_LAB_NAME, out);
      }
      case 'status':
      case 'info': {
        const p = parse(args, { '-o': 'value' });
        return await labStatus(flag(p, '--name') ?? DEFAULT_LAB_NAME, out, cmd === 'info' || flag(p, '-o') === 'json');
      }
      case 'apply':
      case 'delete': {
        const p = parse(args, { '-f': 'value', '--filename': 'value', '--ignore-not-found': 'bool', '--grace-period': 'value' });
        const grace = num(flag(p, '--grace-period'), 'grace-period', 0, 86400);
        const name = flag(p, '--name') ?? DEFAULT_LAB_NAME;
        const ns = flag(p, '-n') ?? 'default';
        const sources = [...(p.flags.get('-f') ?? []), ...(p.flags.get('--filename') ?? [])];
        const client = labClient(name);
        if (cmd === 'delete' && sources.length === 0) {
          const [kindWord, ...names] = p.positional;
          const kind = kindWord ? resolveKind(kindWord) : undefined;
          if (!kind || names.length === 0) throw new LabError('delete -f FILE|- or delete KIND NAME...', 2);
          let rc = 0;
          for (const n of names) {
            const r = await deleteOne(client, kind, ns, n, grace);
            if (r === 'deleted') out(`${kind.display}/${n} deleted`);
            else if (!(r === 'notfound' && has(p, '--ignore-not-found'))) {
              process.stderr.write(r === 'notfound' ? `Error from server (NotFound): ${kind.resource} "${n}" not found\n` : `error: ${r}\n`);
              rc = 1;
            }
          }
          return rc;
        }
        if (sources.length === 0) throw new LabError(`${cmd}: -f FILE|- is required`, 2);
        const objs = sources.flatMap((s) => parseManifests(readSource(s), ns, s === '-' ? 'stdin' : s));
        if (objs.length === 0) throw new LabError(`${cmd}: no objects in ${sources.join(', ')}`);
        return cmd === 'apply'
          ? await applyObjects(client, objs, out)
          : await deleteObjects(client, objs, has(p, '--ignore-not-found'), out);
      }
      case 'scale': {
        const p = parse(args, { '--replicas': 'value' });
        const [target, count] = p.positional;
        const replicas = flag(p, '--replicas') ?? count;
        if (!target || replicas === undefined) throw new LabError('scale KIND/NAME N', 2);
        return await scale(labClient(flag(p, '--name') ?? DEFAULT_LAB_NAME), target, replicas, flag(p, '-n') ?? 'default', out);
      }
      case 'get': {
        const p = parse(args, { '-o': 'value', '--output': 'value', '-A': 'bool', '--all-namespaces': 'bool', '-l': 'value', '--selector': 'value' });
        if (has(p, '--output')) p.flags.set('-o', p.flags.get('--output')!);
        if (has(p, '--all-namespaces')) p.flags.set('-A', ['true']);
        if (has(p, '--selector')) p.flags.set('-l', p.flags.get('--selector')!);
        return await cmdGet(labClient(flag(p, '--name') ?? DEFAULT_LAB_NAME), p);
      }
      case 'exec': {
        const p = parse(args, { '--node': 'value', '--external': 'bool', '--cp': 'bool' });
        return await cmdExec(flag(p, '--name') ?? DEFAULT_LAB_NAME, p);
      }
      case 'restart-agents': {
        const p = parse(args, { '--mode': 'value', '--agent-arg': 'value', '--timeout': 'value' });
        const timeoutMs = (num(flag(p, '--timeout'), 'timeout', 1, 3600) ?? 90) * 1000;
        return await restartAgents(flag(p, '--name') ?? DEFAULT_LAB_NAME, flag(p, '--mode'), p.flags.get('--agent-arg') ?? [], timeoutMs, out);
      }
      case 'upgrade-loaders': {
        const p = parse(args, { '--binary': 'value' });
        const bin = flag(p, '--binary');
        if (!bin) throw new LabError('upgrade-loaders --binary PATH', 2);
        const r = await labClient(flag(p, '--name') ?? DEFAULT_LAB_NAME).call<{ message: string }>('POST', '/lab/v1/loaders/upgrade', { binary: path.resolve(bin) });
        out(r.message);
        return 0;
      }
      case 'apiserver': {
        const p = parse(args, { '--expire-watches': 'bool' });
        return await apiServerCommand(flag(p, '--name') ?? DEFAULT_LAB_NAME, p.positional[0], has(p, '--expire-watches'), out);
      }
      case 'set-ready': {
        const p = parse(args, {});
        return await cmdSetReady(labClient(flag(p, '--name') ?? DEFAULT_LAB_NAME), p);
      }
      case 'wait-ready': {
        const p = parse(args, { '--timeout': 'value' });
        const timeoutMs = (num(flag(p, '--timeout'), 'timeout', 0, 3600) ?? 60) * 1000;
        return await waitReady(labClient(flag(p, '--name') ?? DEFAULT_LAB_NAME), timeoutMs, out);
      }
      case 'logs': {
        const p = parse(args, { '--tail': 'value', '--loader': 'bool' });
        const [target] = p.positional;
        if (!target) throw new LabError('logs daemon|NODE|NODE-loader|POD', 2);
        return labLogs(flag(p, '--name') ?? DEFAULT_LAB_NAME, target, num(flag(p, '--tail'), 'line count', 0, 1e9), has(p, '--loader'), flag(p, '-n') ?? 'default',
          (t) => process.stdout.write(t));
      }
      case 'kubectl':
        return await labKubectl(args);
      case 'cleanup':
        return await runCleanupCommand(args);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        return usage(cmd === undefined ? 2 : 0);
      default:
        throw new LabError(`unknown lab command ${JSON.stringify(cmd)}\n${LAB_USAGE}`, 2);
    }
  } catch (err) {
    if (err instanceof LabError) {
      process.stderr.write(`switchyard lab ${cmd ?? ''}: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') {
      process.stderr.write(`switchyard lab ${cmd}: the lab daemon does not answer (${e.message}); is the lab up? (\`switchyard lab status\`)\n`);
      return 1;
    }
    process.stderr.write(`switchyard lab ${cmd}: ${e.message}\n`);
    return 1;
  }
}

function usage(code: number): number {
  (code === 0 ? process.stdout : process.stderr).write(`${LAB_USAGE}\n`);
  return code;
}
