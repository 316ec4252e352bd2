// In-process lab API server of tree T: PUT of an EndpointSlice, N times: round trip and PUT start -> watch event.
import http from 'node:http';
import fs from 'node:fs';
const [,, T, N] = process.argv;
const { createApiServer } = await import(`${T}/dist/lab/src/apiserver/server.js`);
const { Store } = await import(`${T}/dist/lab/src/apiserver/store.js`);
const { sliceObj } = await import(`${T}/dist/bench/objects.js`);
const sock = `/tmp/perf15/api-${process.pid}.sock`;
const server = createApiServer(new Store());
await server.listen({ path: sock });
const P = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
const agent = new http.Agent({ keepAlive: true });
function req(method, path, body) {
  return new Promise((res, rej) => {
    const r = http.request({ socketPath: sock, agent, method, path, headers: { 'content-type': 'application/json' } }, (m) => {
      let t = ''; m.on('data', (d) => (t += d)); m.on('end', () => res(JSON.parse(t)));
    });
    r.on('error', rej); if (body) r.write(JSON.stringify(body)); r.end();
  });
}
const bk = [{ name: 'a', ip: '198.19.1.3', node: 'node1' }, { name: 'b', ip: '198.19.1.4', node: 'node1' }];
let cur = await req('POST', P, sliceObj('bench-flip', [bk[0]]));
let ev = 0, evT = 0;
const w = http.request({ socketPath: sock, path: `${P}?watch=1&resourceVersion=${cur.metadata.resourceVersion}` }, (m) => m.on('data', () => { ev++; evT = performance.now(); }));
w.end();
await new Promise((r) => setTimeout(r, 200));
const rt = [], we = [];
for (let i = 0; i < Number(N); i++) {
  const next = sliceObj('bench-flip', [bk[(i + 1) % 2]]);
  next.metadata.resourceVersion = cur.metadata.resourceVersion;
  const before = ev; const t0 = performance.now();
  cur = await req('PUT', `${P}/bench-flip-1`, next);
  const t1 = performance.now();
  while (ev === before) await new Promise((r) => setImmediate(r));
  if (i >= 100) { rt.push(t1 - t0); we.push(evT - t0); }
}
const q = (a, p) => { const v = [...a].sort((x, y) => x - y); return (v[Math.floor(p * (v.length - 1))] * 1000).toFixed(0); };
console.log(T.split('/').pop(), 'PUT round trip µs min', q(rt, 0), 'p50', q(rt, .5), 'p90', q(rt, .9), '| PUT start -> watch event µs min', q(we, 0), 'p50', q(we, .5));
w.destroy(); await server.close(); process.exit(0);
