// The ClusterRole grants exactly what the agent's code calls, derived from the
// sources: every typed API method of @kubernetes/client-node called in
// control-plane/src (listNode -> list nodes, readNode -> get nodes, ...), and
// every API path given to an informer (list + watch). A call added without its
// rule, or a rule left after its call went away, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ROOT, find, renderKustomization, type Obj } from '../deploy/manifests.js';

const SRC = path.join(ROOT, 'control-plane/src');
const PLAIN_LIST_WATCH = 'control-plane/src/k8s/plain-list-watch.ts';

function sources(dir: string): Array<{ file: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [{ file: path.relative(ROOT, p), text: readFileSync(p, 'utf8') }] : [];
  });
}

/** API group of a generated client class (CoreV1Api -> "", DiscoveryV1Api -> discovery.k8s.io). */
const GROUPS: Record<string, string> = {
  Core: '', Discovery: 'discovery.k8s.io', Apps: 'apps', Batch: 'batch', Events: 'events.k8s.io', Coordination: 'coordination.k8s.io',
  Networking: 'networking.k8s.io', Policy: 'policy', RbacAuthorization: 'rbac.authorization.k8s.io', Storage: 'storage.k8s.io',
  Autoscaling: 'autoscaling', Authentication: 'authentication.k8s.io', Authorization: 'authorization.k8s.io',
};
const VERBS: Array<[RegExp, string]> = [
  [/^deleteCollection/, 'deletecollection'], [/^list/, 'list'], [/^read/, 'get'], [/^create/, 'create'],
  [/^replace/, 'update'], [/^patch/, 'patch'], [/^delete/, 'delete'],
];

function plural(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('endpoints')) return k;
  if (k.endsWith('y')) return `${k.slice(0, -1)}ies`;
  if (k.endsWith('s')) return `${k}es`;
  return `${k}s`;
}

/** "group/resource[/subresource]:verb" of a typed client method, e.g. listServiceForAllNamespaces -> "/services:list". */
export function ruleOfMethod(cls: string, method: string): string {
  const g = /^([A-Z][A-Za-z]*?)V\d+(?:(?:alpha|beta)\d+)?Api$/.exec(cls)?.[1];
  assert.ok(g !== undefined && g in GROUPS, `no API group known for ${cls}: add it to GROUPS in this test`);
  const name = method.replace(/WithHttpInfo$/, '');
  const verb = VERBS.find(([re]) => re.test(name));
  assert.ok(verb, `cannot tell the verb of ${cls}.${method}: extend VERBS in this test`);
  let kind = name.replace(verb[0], '').replace(/^Namespaced/, '').replace(/ForAllNamespaces$/, '');
  let sub = '';
  const subm = /^(.+?)(Status|Scale|Log|Binding|Eviction|Ephemeralcontainers|Resize|Proxy)$/.exec(kind);
  if (subm && kind !== 'Binding') {
    kind = subm[1]!;
    sub = `/${subm[2]!.toLowerCase()}`;
  }
  return `${GROUPS[g]}/${plural(kind)}${sub}:${verb[1]}`;
}

/** What the code needs, each with where it comes from. */
function requiredRules(): Map<string, string[]> {
  const need = new Map<string, string[]>();
  const add = (rule: string, why: string): void => void need.set(rule, [...(need.get(rule) ?? []), why]);
  const files = sources(SRC);
  for (const { file, text } of files) {
    // Raw access to the API server would escape this derivation; the one
    // exception, plain-list-watch.ts, lists and watches the path its informer
    // is given (below) and is used through makePlainInformer only.
    const informerCode = file === PLAIN_LIST_WATCH;
    for (const raw of ['KubernetesObjectApi', 'applyToFetchOptions', 'applyToHTTPSOptions', 'new Watch(', 'extends Watch']) {
      if (informerCode && (raw === 'applyToHTTPSOptions' || raw === 'extends Watch')) continue;
      assert.ok(!text.includes(raw), `${file} uses ${raw}: derive its RBAC rules in this test`);
    }
    if (!informerCode) assert.ok(!/\blistPlain\(/.test(text), `${file} calls listPlain(): only informers may (derive its RBAC rules in this test)`);
    for (const m of text.matchAll(/makeApiClient\((\w+)\)/g)) {
      const cls = m[1]!;
      const ctor = (k8s as unknown as Record<string, { prototype: object } | undefined>)[cls];
      assert.ok(ctor?.prototype, `${file}: ${cls} is not a client-node API class`);
      const methods = Object.getOwnPropertyNames(ctor.prototype).filter((n) => n !== 'constructor');
      for (const { file: f2, text: t2 } of files) {
        for (const meth of methods) {
          if (new RegExp(`\\.${meth}\\(`).test(t2)) add(ruleOfMethod(cls, meth), `${f2}: ${cls}.${meth}()`);
        }
      }
    }
    if (text.includes('makeInformer') || text.includes('makePlainInformer')) {
      // An informer lists, then watches, the path it is given.
      for (const m of text.matchAll(/['"`](\/apis?\/[^'"`]+)['"`]/g)) {
        const p = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/[^/]+\/)?([a-z]+)$/.exec(m[1]!);
        assert.ok(p, `${file}: informer path ${m[1]} not understood`);
        for (const verb of ['list', 'watch']) add(`${p[1] ?? ''}/${p[2]}:${verb}`, `${file}: informer on ${m[1]}`);
      }
    }
  }
  return need;
}

function grantedRules(role: Obj): Set<string> {
  const out = new Set<string>();
  for (const r of role['rules'] as Obj[]) {
    assert.equal(r['resourceNames'], undefined, 'no resourceNames');
    assert.equal(r['nonResourceURLs'], undefined, 'no nonResourceURLs');
    for (const g of r['apiGroups'] as string[]) {
      for (const res of r['resources'] as string[]) {
        for (const v of r['verbs'] as string[]) {
          assert.ok(![g, res, v].includes('*'), 'no wildcards');
          out.add(`${g}/${res}:${v}`);
        }
      }
    }
  }
  return out;
}

test('method names map to RBAC rules', () => {
  assert.equal(ruleOfMethod('CoreV1Api', 'listServiceForAllNamespaces'), '/services:list');
  assert.equal(ruleOfMethod('CoreV1Api', 'readNode'), '/nodes:get');
  assert.equal(ruleOfMethod('CoreV1Api', 'listNamespacedEndpoints'), '/endpoints:list');
  assert.equal(ruleOfMethod('CoreV1Api', 'patchNamespacedServiceStatus'), '/services/status:patch');
  assert.equal(ruleOfMethod('CoreV1Api', 'createNamespacedEvent'), '/events:create');
  assert.equal(ruleOfMethod('DiscoveryV1Api', 'listEndpointSliceForAllNamespacesWithHttpInfo'), 'discovery.k8s.io/endpointslices:list');
  assert.equal(ruleOfMethod('NetworkingV1Api', 'listIngressClass'), 'networking.k8s.io/ingressclasses:list');
  assert.equal(ruleOfMethod('PolicyV1Api', 'deleteCollectionNamespacedPodDisruptionBudget'), 'policy/poddisruptionbudgets:deletecollection');
});

test('the ClusterRole grants exactly what the agent calls', () => {
  const need = requiredRules();
  // What informers.ts does today, spelled out so a reader sees it.
  assert.deepEqual([...need.keys()].sort(), [
    '/nodes:list', '/nodes:watch', '/services:list', '/services:watch',
    'discovery.k8s.io/endpointslices:list', 'discovery.k8s.io/endpointslices:watch',
  ]);
  const objs = renderKustomization();
  const granted = grantedRules(find(objs, 'ClusterRole', 'switchyard'));
  const missing = [...need.keys()].filter((r) => !granted.has(r)).map((r) => `${r} (${need.get(r)!.join('; ')})`);
  const extra = [...granted].filter((r) => !need.has(r));
  assert.deepEqual(missing, [], 'rules the code needs but the ClusterRole lacks');
  assert.deepEqual(extra, [], 'rules the ClusterRole grants but no code uses');
});

test('the ClusterRoleBinding gives the role to the DaemonSet\'s ServiceAccount and nothing else', () => {
  const objs = renderKustomization();
  const binding = find(objs, 'ClusterRoleBinding', 'switchyard');
  const sa = find(objs, 'ServiceAccount', 'switchyard');
  const ds = find(objs, 'DaemonSet', 'switchyard');
  assert.deepEqual(binding['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'switchyard' });
  assert.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', name: sa['metadata']['name'], namespace: sa['metadata']['namespace'] }]);
  assert.equal(ds['spec']['template']['spec']['serviceAccountName'], sa['metadata']['name']);
  assert.equal(ds['metadata']['namespace'], sa['metadata']['namespace']);
  // No other RBAC object (Role, RoleBinding) hides more permissions.
  assert.deepEqual(objs.filter((o) => /Role/.test(o['kind'])).map((o) => o['kind']).sort(), ['ClusterRole', 'ClusterRoleBinding']);
});
