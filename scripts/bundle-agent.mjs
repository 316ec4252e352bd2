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
import fs from 'node:fs';
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
  // No comments or layout (about half the size; names stay, and the source
  // map maps stack traces back), licence comments at the end.
  minifyWhitespace: true,
  legalComments: 'eof',
  charset: 'ascii',
  logLevel: 'warning',
});

// V8 keeps a script's source for lazy compilation, as one byte a character
// only while every character is Latin-1: one non-ASCII character left in a
// regular expression or a licence comment (which charset: 'ascii' leaves
// alone) made the whole source two bytes a character (14 MiB of heap for
// the 7 MB bundle). A \uXXXX escape means the same character in a string, a
// regular expression, an identifier and a comment alike (not in a
// String.raw template: the bundle has none with such a character).
const out = path.join(root, 'dist/control-plane/agent.bundle.mjs');
const text = fs.readFileSync(out, 'utf8');
const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
if (ascii !== text) fs.writeFileSync(out, ascii);
