// The lab API server's Table cells and field decoding, case by case (the
// kubectl test covers the common path with the real kubectl).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeAgainst, validateFields } from '../../lab/src/apiserver/field-validation.js';
import { RESOURCES } from '../../lab/src/apiserver/resources.js';
import { humanDuration, tableVersion, toTable } from '../../lab/src/apiserver/tables.js';
import { request, startTestCluster } from './helpers.js';

const NOW = Date.parse('2026-01-10T00:00:00Z');
const created = (agoMs: number): { name: string; creationTimestamp: string } => ({ name: 'x', creationTimestamp: new Date(NOW - agoMs).toISOString() });
const cells = (res: Parameters<typeof toTable>[0], o: Record<string, unknown>): unknown[] =>
  (toTable(res, [o], { version: 'v1', includeObject: 'None', now: NOW }) as { rows: Array<{ cells: unknown[] }> }).rows[0]!.cells;

describe('Tables', () => {
  test('AGE as Go duration.HumanDuration prints it', () => {
    const s = 1000;
    const cases: Array<[number, string]> = [
      [0, '0s'], [119 * s, '119s'], [120 * s, '2m'], [150 * s, '2m30s'], [15 * 60 * s, '15m'], [179 * 60 * s, '179m'],
      [3 * 3600 * s, '3h'], [(3 * 60 + 20) * 60 * s, '3h20m'], [10 * 3600 * s, '10h'], [72 * 3600 * s, '3d'], [76 * 3600 * s, '3d4h'],
      [30 * 86400 * s, '30d'], [2 * 365 * 86400 * s, '2y'], [(2 * 365 + 3) * 86400 * s, '2y3d'], [-5 * s, '<invalid>'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });

  test('Service cells: LoadBalancer pending and assigned, NodePort ports, ExternalName, selector', () => {
    const lb = { metadata: created(1000), spec: { type: 'LoadBalancer', clusterIP: '198.18.128.5', ports: [{ port: 80, nodePort: 30001, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { b: '2', a: '1' } } };
    assert.deepEqual(cells('services', lb), ['x', 'LoadBalancer', '198.18.128.5', '<pending>', '80:30001/TCP,53/UDP', '1s', 'a=1,b=2']);
    const assigned = { ...lb, status: { loadBalancer: { ingress: [{ ip: '198.19.0.10' }] } } };
    assert.equal(cells('services', assigned)[3], '198.19.0.10');
    const ext = { metadata: created(0), spec: { type: 'ExternalName', externalName: 'db.example.test' } };
    assert.deepEqual(cells('services', ext).slice(1, 5), ['ExternalName', '<none>', 'db.example.test', '<none>']);
  });

  test('EndpointSlice cells list three addresses, then "+ N more..."', () => {
    const es = { metadata: created(0), addressType: 'IPv4', ports: [{ port: 8080 }, { name: 'named' }], endpoints: [1, 2, 3, 4, 5].map((i) => ({ addresses: [`198.18.1.${i}`] })) };
    assert.deepEqual(cells('endpointslices', es).slice(1, 4), ['IPv4', '8080,named', '198.18.1.1,198.18.1.2,198.18.1.3 + 2 more...']);
    assert.deepEqual(cells('endpointslices', { metadata: created(0), addressType: 'IPv6' }).slice(2, 4), ['<unset>', '<unset>']);
  });

  test('Pod STATUS and RESTARTS: waiting reasons, terminating, restarts with when', () => {
    const pod = {
      metadata: created(0),
      spec: { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'node-a' },
      status: {
        phase: 'Running',
        podIP: '198.18.1.7',
        containerStatuses: [
          { name: 'a', ready: true, restartCount: 0, state: { running: {} } },
          { name: 'b', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { finishedAt: new Date(NOW - 30_000).toISOString() } } },
        ],
      },
    };
    assert.deepEqual(cells('pods', pod), ['x', '1/2', 'CrashLoopBackOff', '2 (30s ago)', '0s', '198.18.1.7', 'node-a', '<none>', '<none>']);
    const deleting = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date(NOW).toISOString() } };
    assert.equal(cells('pods', deleting)[2], 'Terminating');
  });

  test('the Accept header kubectl sends selects a Table; a plain JSON Accept does not', () => {
    assert.equal(tableVersion('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), 'v1');
    assert.equal(tableVersion('application/json;as=Table;v=v1beta1;g=meta.k8s.io'), 'v1beta1');
    assert.equal(tableVersion('application/json'), undefined);
    assert.equal(tableVersion(undefined), undefined);
    assert.equal(tableVersion('application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io'), undefined);
  });
});

describe('field decoding', () => {
  test('unknown fields by path (list indices included), patch directives skipped, int-or-string both ways', () => {
    const dep = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'a', ports: [{ containerPort: 80, bogus: 1 }] }] } }, strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } } } };
    assert.deepEqual(decodeAgainst('V1Deployment', dep).unknown, ['spec.template.spec.containers[0].ports[0].bogus']);
    const patch = { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'a', $patch: 'delete' }] } } } };
    assert.deepEqual(decodeAgainst('V1Deployment', patch, true), { unknown: [] });
    assert.match(decodeAgainst('V1Deployment', { spec: { strategy: { rollingUpdate: { maxSurge: true } } } }).typeError ?? '', /cannot unmarshal bool into Go struct field RollingUpdateDeployment\.spec\.strategy\.rollingUpdate\.maxSurge of type intstr\.IntOrString/);
    assert.match(decodeAgainst('V1Service', { spec: { ports: [{ port: 1.5 }] } }).typeError ?? '', /cannot unmarshal number 1\.5 into Go struct field ServicePort\.spec\.ports\.port of type int32/);
    assert.match(decodeAgainst('V1Pod', { metadata: { labels: { a: 1 } } }).typeError ?? '', /cannot unmarshal number into Go struct field ObjectMeta\.metadata\.labels of type string/);
  });

  test('Strict fails, Warn warns, Ignore passes', () => {
    const body = { spec: { foo: 1, ports: [{ port: 80 }] } };
    assert.throws(() => validateFields(RESOURCES.services, body, 'Strict'), /Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec\.foo"/);
    assert.deepEqual(validateFields(RESOURCES.services, body, 'Warn'), ['unknown field "spec.foo"']);
    assert.deepEqual(validateFields(RESOURCES.services, body, 'Ignore'), []);
  });

  test('over HTTP: Warning headers by default, 400 with fieldValidation=Strict, 400 on an unknown directive; nothing stored on failure', async () => {
    const c = await startTestCluster();
    try {
      const svc = (name: string): Record<string, unknown> => ({ metadata: { name }, spec: { ports: [{ port: 80 }], colour: 'blue' } });
      const warned = await request(c.base, 'POST', '/api/v1/namespaces/default/services', svc('a'));
      assert.equal(warned.status, 201);
      assert.equal(warned.headers.warning, '299 - "unknown field \\"spec.colour\\""');
      const strict = await request(c.base, 'POST', '/api/v1/namespaces/default/services?fieldValidation=Strict', svc('b'));
      assert.equal(strict.status, 400);
      assert.equal(strict.body.reason, 'BadRequest');
      assert.equal(c.store.get('services', 'b', 'default'), undefined);
      const bad = await request(c.base, 'POST', '/api/v1/namespaces/default/services?fieldValidation=Loud', svc('c'));
      assert.equal(bad.status, 400);
      const patched = await request(c.base, 'PATCH', '/api/v1/namespaces/default/services/a?fieldValidation=Strict', { spec: { colour: 'red' } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(patched.status, 400);
      assert.match(patched.body.message, /unknown field "spec\.colour"/);
      const v3 = await request(c.base, 'GET', '/openapi/v3');
      const appsUrl = v3.body.paths['apis/apps/v1'].serverRelativeURL as string;
      const apps = await request(c.base, 'GET', appsUrl);
      const patchOp = apps.body.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
      assert.deepEqual(patchOp['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
      assert.ok(patchOp.parameters.some((p: { name: string; in: string }) => p.name === 'fieldValidation' && p.in === 'query'));
      const v2pb = await request(c.base, 'GET', '/openapi/v2', undefined, { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
      assert.equal(v2pb.status, 406);
      const v2 = await request(c.base, 'GET', '/openapi/v2');
      assert.equal(v2.body.swagger, '2.0');
      assert.ok(v2.body.definitions.V1Pod.properties.spec.$ref === '#/definitions/V1PodSpec');
    } finally {
      await c.stop();
    }
  });
});
