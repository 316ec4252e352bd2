// Prints the digest of ipv4ScenarioOps against the build under DIST (default
// ./dist): run it with DIST=<an older tree's dist> to record a golden value.
//   DIST=/path/to/old/dist node test/unit/ipv4-golden-record.mjs
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = path.resolve(process.env.DIST ?? 'dist');
const here = path.resolve('dist/test/unit/ipv4-golden-scenario.js');
const imp = (p) => import(pathToFileURL(path.join(dist, 'control-plane/src', p)).href);
const { ipv4ScenarioOps } = await import(pathToFileURL(here).href);
const m = {
  ...(await imp('model/service-tracker.js')), ...(await imp('model/endpoint-slice-cache.js')), ...(await imp('dataplane/desired-state.js')),
  ...(await imp('dataplane/ebpf/desired-maps.js')), ...(await imp('dataplane/ebpf/diff.js')), ...(await imp('dataplane/ebpf/maps-content.js')),
};
const json = ipv4ScenarioOps(m);
console.log(createHash('sha256').update(json).digest('hex'), json.length);
