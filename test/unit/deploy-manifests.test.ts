// deploy/ read as a reviewer would: resources on every container, the pod on
// the host network on every node, the mounts the loader and the agent really
// use, the configuration the agent gets, and the paths the image provides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AGENT_NODE_FLAGS } from '../../control-plane/src/cli/agent-node-flags.js';
import { parseSwitchyardConfig } from '../../control-plane/src/config/kube-proxy-config.js';
import { parseBindAddress } from '../../control-plane/src/util/bind-address.js';
import {
  DEPLOY, ROOT, copyArgs, find, parseDockerfile, podContainers, renderKustomization, renderWithKubectl, splitImage, type Obj,
} from '../deploy/manifests.js';

const objs = renderKustomization();
const ds = find(objs, 'DaemonSet', 'switchyard');
const pod = ds['spec']['template']['spec'] as Obj;
const containers = podContainers(pod);
const container = (name: string): Obj => {
  const c = containers.find((x) => x['name'] === name);
  assert.ok(c, `container ${name}`);
  return c;
};
const loader = container('loader');
const agent = container('agent');
const volume = (name: string): Obj => {
  const v = (pod['volumes'] as Obj[]).find((x) => x['name'] === name);
  assert.ok(v, `volume ${name}`);
  return v;
};
const mountAt = (c: Obj, mountPath: string): Obj | undefined => (c['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === mountPath);
/** The host path or volume type behind a container path. */
const backing = (c: Obj, mountPath: string): { mount: Obj; volume: Obj } => {
  const mount = mountAt(c, mountPath);
  assert.ok(mount, `${c['name']} mounts ${mountPath}`);
  return { mount, volume: volume(mount['name']) };
};
const configMap = find(objs, 'ConfigMap', 'switchyard-config');
const configText = configMap['data']['config.yaml'] as string;
const config = parseSwitchyardConfig(configText, 'deploy/configmap.yaml');
const loaderScript = (loader['command'] as string[]).join(' ');
/** The value after `flag` in the loader's command line. */
const loaderFlag = (flag: string): string => {
  const m = new RegExp(`${flag}\\s+(\\S+)`).exec(loaderScript);
  assert.ok(m, `loader command has ${flag}: ${loaderScript}`);
  return m[1]!;
};

test('the kustomization lists every manifest and renders what kubectl renders', () => {
  assert.deepEqual(objs.map((o) => `${o['kind']}/${o['metadata']['name']}`).sort(), [
    'ClusterRole/switchyard', 'ClusterRoleBinding/switchyard', 'ConfigMap/switchyard-apiserver', 'ConfigMap/switchyard-config',
    'DaemonSet/switchyard', 'ServiceAccount/switchyard',
  ]);
  for (const o of objs) {
    if (!o['kind'].startsWith('Cluster')) assert.equal(o['metadata']['namespace'], 'kube-system', `${o['kind']} namespace`);
  }
  const viaKubectl = renderWithKubectl();
  if (!viaKubectl) return; // kubectl is optional: the renderer above is the reference then
  const key = (o: Obj): string => `${o['kind']}/${o['metadata']['namespace'] ?? ''}/${o['metadata']['name']}`;
  assert.deepEqual(viaKubectl.map(key).sort(), objs.map(key).sort());
  assert.deepEqual(find(viaKubectl, 'DaemonSet')['spec'], ds['spec']);
});

test('the image is a variable of the kustomization, used by both containers', () => {
  const k = readFileSync(path.join(DEPLOY, 'kustomization.yaml'), 'utf8');
  const raw = readFileSync(path.join(DEPLOY, 'daemonset.yaml'), 'utf8');
  const names = [...raw.matchAll(/^\s+image:\s*(\S+)\s*$/gm)].map((m) => m[1]);
  assert.deepEqual(names, ['switchyard', 'switchyard'], 'daemonset.yaml names the image without registry or tag');
  assert.match(k, /images:\s*\n\s*- name: switchyard\s*\n\s*newName: \S+\s*\n\s*newTag: \S+/);
  assert.equal(loader['image'], agent['image']);
  assert.ok(splitImage(loader['image']).tag, 'rendered image has a tag');
});

test('every container has CPU and memory requests and limits, limits >= requests', () => {
  const cpu = (q: string): number => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
  const mem = (q: string): number => {
    const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
    assert.ok(m, `memory quantity ${q}`);
    return Number(m[1]) * ({ Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1);
  };
  assert.ok(containers.length >= 2);
  for (const c of containers) {
    const r = c['resources'] as Obj | undefined;
    for (const kind of ['requests', 'limits']) {
      for (const res of ['cpu', 'memory']) assert.ok(r?.[kind]?.[res], `${c['name']}: resources.${kind}.${res}`);
    }
    assert.ok(cpu(String(r!['limits']['cpu'])) >= cpu(String(r!['requests']['cpu'])), `${c['name']} cpu`);
    assert.ok(mem(String(r!['limits']['memory'])) >= mem(String(r!['requests']['memory'])), `${c['name']} memory`);
  }
});

test('the pod runs on the host network of every node, as a node-critical pod', () => {
  assert.equal(pod['hostNetwork'], true);
  assert.equal(pod['dnsPolicy'], 'ClusterFirstWithHostNet');
  assert.equal(pod['priorityClassName'], 'system-node-critical');
  // One toleration with operator Exists and no key/effect tolerates every taint.
  assert.ok((pod['tolerations'] as Obj[]).some((t) => t['operator'] === 'Exists' && !t['key'] && !t['effect']), 'tolerates every taint');
  assert.equal(ds['spec']['updateStrategy']['type'], 'RollingUpdate');
  assert.deepEqual(ds['spec']['selector']['matchLabels'], Object.fromEntries(
    Object.entries(ds['spec']['template']['metadata']['labels']).filter(([k]) => k in ds['spec']['selector']['matchLabels'])));
  const sa = find(objs, 'ServiceAccount');
  assert.equal(pod['serviceAccountName'], sa['metadata']['name']);
});

test('the agent knows its node from the downward API and is probed on /healthz and /livez', () => {
  const env = (agent['env'] as Obj[]).find((e) => e['name'] === 'NODE_NAME');
  assert.deepEqual(env?.['valueFrom'], { fieldRef: { fieldPath: 'spec.nodeName' } });
  const healthPort = parseBindAddress(config.healthzBindAddress ?? '0.0.0.0:10256').port;
  assert.deepEqual(agent['readinessProbe']['httpGet'], { path: '/healthz', port: healthPort });
  assert.deepEqual(agent['livenessProbe']['httpGet'], { path: '/livez', port: healthPort });
  const ports = Object.fromEntries((agent['ports'] as Obj[]).map((p) => [p['name'], p['containerPort']]));
  assert.equal(ports['healthz'], healthPort);
  assert.equal(ports['metrics'], parseBindAddress(config.metricsBindAddress ?? '127.0.0.1:10249').port);
});

test('the agent reaches the API server at its own address, not through a ClusterIP', () => {
  const ref = (agent['envFrom'] as Obj[]).find((e) => e['configMapRef'])?.['configMapRef']?.['name'];
  const cm = find(objs, 'ConfigMap', ref);
  assert.ok(cm['data']['KUBERNETES_SERVICE_HOST'], 'KUBERNETES_SERVICE_HOST');
  assert.ok(Number(cm['data']['KUBERNETES_SERVICE_PORT']) > 0, 'KUBERNETES_SERVICE_PORT');
  // The pod's own token is what the agent authenticates with (in-cluster configuration).
  assert.notEqual(pod['automountServiceAccountToken'], false);
  assert.ok(!(agent['command'] as string[]).includes('--kubeconfig'), 'no kubeconfig: in-cluster configuration');
});

test('the configuration file is a valid SwitchyardConfiguration that the agent is pointed at', () => {
  assert.equal(config.kind, 'SwitchyardConfiguration');
  assert.deepEqual(config.ignored, []);
  const cmd = agent['command'] as string[];
  const file = cmd[cmd.indexOf('--config') + 1];
  assert.ok(cmd.includes('--config') && file, `agent command ${cmd.join(' ')}`);
  const { mount, volume: v } = backing(agent, path.posix.dirname(file));
  assert.equal(mount['readOnly'], true);
  assert.equal(v['configMap']['name'], 'switchyard-config');
  assert.ok(path.posix.basename(file) in configMap['data'], `ConfigMap has ${path.posix.basename(file)}`);
  assert.equal(config.maglev.seed, 0x5317c4d1, 'the seed is set explicitly: it must be the same on every node');
});

test('loader and agent share the loader socket through an emptyDir', () => {
  const sock = config.loaderSocket ?? '/run/switchyard/loader.sock';
  assert.equal(loaderFlag('--socket'), sock);
  const dir = path.posix.dirname(sock);
  const a = backing(agent, dir);
  const l = backing(loader, dir);
  assert.equal(a.mount['name'], l.mount['name']);
  assert.ok(a.volume['emptyDir'], 'emptyDir');
});

test('the loader gets the host bpffs (Bidirectional), the cgroup v2 root, and the pin root it uses', () => {
  const bpf = backing(loader, '/sys/fs/bpf');
  assert.equal(bpf.volume['hostPath']['path'], '/sys/fs/bpf');
  assert.equal(bpf.mount['mountPropagation'], 'Bidirectional');
  // Kubernetes allows Bidirectional propagation only in privileged containers.
  assert.equal(loader['securityContext']['privileged'], true);
  const pinRoot = loaderFlag('--pin-root');
  assert.ok(pinRoot.startsWith('/sys/fs/bpf/'), pinRoot);
  // The loader's default, from its usage text, is what is passed.
  const main = readFileSync(path.join(ROOT, 'loader/src/main.c'), 'utf8');
  assert.match(main, new RegExp(`--pin-root DIR\\s+bpffs directory for pins \\(default ${pinRoot.replace(/\//g, '\\/')}\\)`));
  assert.match(loaderScript, /mount -t bpf bpf \/sys\/fs\/bpf/, 'mounts bpffs when the node has none');
  const cg = backing(loader, '/sys/fs/cgroup');
  assert.equal(cg.volume['hostPath']['path'], '/sys/fs/cgroup');
  assert.match(loaderScript, /--instance\s+\S+/);
});

test('the agent has no privilege it does not use', () => {
  const sc = agent['securityContext'] as Obj;
  assert.notEqual(sc['privileged'], true);
  assert.equal(sc['allowPrivilegeEscalation'], false);
  assert.equal(sc['readOnlyRootFilesystem'], true);
  assert.deepEqual(sc['capabilities']['drop'], ['ALL']);
  // iptables (the iptables mode, and removing kube-proxy's chains in ebpf mode) needs NET_ADMIN, and NET_RAW for the legacy back end.
  assert.deepEqual([...sc['capabilities']['add']].sort(), ['NET_ADMIN', 'NET_RAW']);
  // It never calls bpf(): no bpffs, no cgroup.
  assert.equal(mountAt(agent, '/sys/fs/bpf'), undefined);
  assert.equal(mountAt(agent, '/sys/fs/cgroup'), undefined);
  const lock = backing(agent, '/run/xtables.lock');
  assert.deepEqual(lock.volume['hostPath'], { path: '/run/xtables.lock', type: 'FileOrCreate' });
  const mods = backing(agent, '/lib/modules');
  assert.equal(mods.mount['readOnly'], true);
  assert.equal(mods.volume['hostPath']['path'], '/lib/modules');
});

test('the commands of the DaemonSet exist in the image the Dockerfile builds', () => {
  const { stages } = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const final = stages[stages.length - 1]!;
  let workdir = '/';
  const provided: string[] = [];
  for (const ins of final.instructions) {
    if (ins.cmd === 'WORKDIR') workdir = path.posix.resolve(workdir, ins.args);
    if (ins.cmd === 'COPY') {
      const { sources, dest } = copyArgs(ins.args);
      const d = path.posix.resolve(workdir, dest);
      for (const s of sources) provided.push(dest.endsWith('/') || sources.length > 1 || d === workdir ? path.posix.join(d, path.posix.basename(s)) : d);
    }
  }
  const has = (p: string): boolean => provided.some((x) => p === x || p.startsWith(`${x}/`));
  assert.ok(has('/usr/local/bin/switchyard-loader'), `loader binary in ${provided.join(', ')}`);
  assert.match(loaderScript, /exec \/usr\/local\/bin\/switchyard-loader /);
  const cmd = agent['command'] as string[];
  assert.equal(cmd[0], 'node');
  // Node's own flags first: the same the lab daemon starts its agents with.
  const flags = cmd.slice(1, 1 + AGENT_NODE_FLAGS.length);
  assert.deepEqual(flags, [...AGENT_NODE_FLAGS]);
  const script = cmd[1 + AGENT_NODE_FLAGS.length]!;
  assert.ok(has(script), `${script} in ${provided.join(', ')}`);
  assert.equal(cmd[2 + AGENT_NODE_FLAGS.length], 'agent');
});

test('the manifests validate against the Kubernetes schemas (when kubernetes-models is installed)', async (t) => {
  let models: Record<string, Record<string, new (o: Obj) => { validate(): void }>>;
  try {
    const load = (m: string): Promise<Record<string, new (o: Obj) => { validate(): void }>> => import(m);
    models = {
      v1: await load('kubernetes-models/v1'),
      'apps/v1': await load('kubernetes-models/apps/v1'),
      'rbac.authorization.k8s.io/v1': await load('kubernetes-models/rbac.authorization.k8s.io/v1'),
    };
  } catch {
    t.skip('kubernetes-models is not installed (npm i -D kubernetes-models to validate the schemas)');
    return;
  }
  for (const o of objs) {
    const Model = models[o['apiVersion']]?.[o['kind']];
    assert.ok(Model, `${o['apiVersion']} ${o['kind']}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o['kind']}/${o['metadata']['name']}`);
  }
});
