// Helpers for the deployment tests: deploy/ rendered the way
// `kubectl apply -k deploy/` does (the subset of kustomize it uses: resources,
// namespace, images, configMapGenerator), the Dockerfile read into stages, and
// .dockerignore matching.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYAML, parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEPLOY = path.join(ROOT, 'deploy');

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass', 'CustomResourceDefinition']);

export function readYAMLDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  }).filter((o) => o !== null);
}

/** Splits "repo/name:tag" (a registry port is not a tag). */
export function splitImage(image: string): { name: string; tag?: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { name: image.slice(0, colon), tag: image.slice(colon + 1) } : { name: image };
}

export function podContainers(spec: Obj): Obj[] {
  return [...(spec['initContainers'] ?? []), ...(spec['containers'] ?? [])];
}

/** deploy/ as kustomize renders it (generated names without the hash suffix). */
export function renderKustomization(dir = DEPLOY): Obj[] {
  const k = parseYAML(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const objs: Obj[] = (k['resources'] as string[]).flatMap((r) => readYAMLDocs(path.join(dir, r)));
  for (const g of (k['configMapGenerator'] ?? []) as Obj[]) {
    const data: Record<string, string> = {};
    for (const lit of (g['literals'] ?? []) as string[]) {
      const i = lit.indexOf('=');
      data[lit.slice(0, i)] = lit.slice(i + 1);
    }
    objs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g['name'] }, data });
  }
  const ns = k['namespace'] as string | undefined;
  for (const o of objs) {
    if (ns && !CLUSTER_SCOPED.has(o['kind'])) o['metadata'].namespace = ns;
    if (ns && o['kind'] === 'ClusterRoleBinding') {
      for (const s of o['subjects'] ?? []) if (s.kind === 'ServiceAccount') s.namespace = ns;
    }
    const spec = o['spec']?.['template']?.['spec'];
    if (spec) {
      for (const c of podContainers(spec)) {
        const img = splitImage(c.image);
        const rule = ((k['images'] ?? []) as Obj[]).find((r) => r['name'] === img.name);
        if (rule) c.image = `${rule['newName'] ?? img.name}:${rule['newTag'] ?? img.tag ?? 'latest'}`;
      }
    }
  }
  return objs;
}

/** `kubectl kustomize` output when kubectl is installed, with generated-name hashes removed; undefined otherwise. */
export function renderWithKubectl(dir = DEPLOY): Obj[] | undefined {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const unhash = (s: string): string => s.replace(/-[a-z0-9]{10}$/, '');
  const docs = parseAllDocuments(out).map((d) => d.toJS() as Obj);
  for (const o of docs) {
    if (o['kind'] === 'ConfigMap') o['metadata'].name = unhash(o['metadata'].name);
    const spec = o['spec']?.['template']?.['spec'];
    for (const c of spec ? podContainers(spec) : []) {
      for (const e of c.envFrom ?? []) if (e.configMapRef) e.configMapRef.name = unhash(e.configMapRef.name);
    }
    for (const v of spec?.volumes ?? []) if (v.configMap) v.configMap.name = unhash(v.configMap.name);
  }
  return docs;
}

export function find(objs: Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x['kind'] === kind && (name === undefined || x['metadata']?.['name'] === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in deploy/`);
  return o;
}

// ---------------------------------------------------------------------------
// Dockerfile

export interface Instruction { cmd: string; args: string; line: number }
export interface Stage { from: string; name?: string; instructions: Instruction[] }

/** Instructions (continuations joined, comments dropped) grouped into stages, ARGs before FROM resolved. */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.split('\n');
  const instrs: Instruction[] = [];
  let cur: Instruction | undefined;
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!cur && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (cur && /^\s*#/.test(line)) return;
    const cont = line.endsWith('\\');
    const body = cont ? line.slice(0, -1) : line;
    if (cur) cur.args += ` ${body.trim()}`;
    else {
      const m = /^\s*(\w+)\s*(.*)$/.exec(body);
      if (!m) throw new Error(`Dockerfile line ${i + 1}: cannot parse ${JSON.stringify(line)}`);
      cur = { cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: i + 1 };
    }
    if (!cont) {
      instrs.push(cur);
      cur = undefined;
    }
  });
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instrs) {
    if (ins.cmd === 'ARG' && stages.length === 0) {
      const [k, v] = ins.args.split('=');
      args[k!] = v ?? '';
      continue;
    }
    if (ins.cmd === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: bad FROM`);
      const from = m[1]!.replace(/\$\{?(\w+)\}?/g, (_, n: string) => args[n] ?? '');
      stages.push({ from, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`Dockerfile line ${ins.line}: ${ins.cmd} before FROM`);
    stages[stages.length - 1]!.instructions.push(ins);
  }
  return { args, stages };
}

/** COPY/ADD arguments: flags, sources, destination (JSON form or plain words). */
export function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? [] : args.trim().split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v] = words.shift()!.slice(2).split('=');
    flags[k!] = v ?? 'true';
  }
  const parts = words.length > 0 ? words : (JSON.parse(args) as string[]);
  return { flags, sources: parts.slice(0, -1), dest: parts[parts.length - 1]! };
}

// ---------------------------------------------------------------------------
// .dockerignore (Docker's rules: paths relative to the context root, Go
// filepath.Match globs plus "**", a pattern that matches a directory excludes
// everything under it, "!" re-includes, the last matching line wins).

export function dockerignoreMatcher(text: string): (rel: string) => boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pat = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
    let re = '';
    for (let i = 0; i < pat.length; i++) {
      const c = pat[i]!;
      if (c === '*' && pat[i + 1] === '*') {
        re += '.*';
        i++;
        if (pat[i + 1] === '/') i++;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return { negate, re: new RegExp(`^${re}$`) };
  });
  return (rel: string): boolean => {
    const parts = rel.split('/');
    let excluded = false;
    for (const r of rules) {
      // The path itself or one of its parent directories.
      for (let n = 1; n <= parts.length; n++) {
        if (r.re.test(parts.slice(0, n).join('/'))) {
          excluded = !r.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

/** Files of the build context (relative paths), .dockerignore applied. */
export function buildContextFiles(root = ROOT): string[] {
  const ignored = dockerignoreMatcher(existsSync(path.join(root, '.dockerignore')) ? readFileSync(path.join(root, '.dockerignore'), 'utf8') : '');
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (ignored(r)) continue;
      const st = statSync(path.join(root, r));
      if (st.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}
