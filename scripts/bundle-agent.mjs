// The agent's modules as one file: dist/control-plane/agent.bundle.mjs, from
// the compiled dist/control-plane/src/cli/agent-command.js and everything it
// imports (client-node, fastify, pino, prom-client, protobufjs). Node loads
// one 8 MB file in about a quarter of the time it takes to resolve, read and
// link the ~1,000 modules it is made of, and that time is on the agent's
// cold start (docs/benchmarks.md). cli/agent-entry.ts uses the bundle only
// when it is newer than the compiled modules it was made from.
//
// Run after tsc (npm run build, scripts/setup.sh): node scripts/bundle-agent.mjs
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
  absWorkingDir: root,
  entryPoints: ['dist/control-plane/src/cli/agent-command.js'],
  outfile: 'dist/control-plane/agent.bundle.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __syCreateRequire } from 'node:module'; const require = __syCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
});
