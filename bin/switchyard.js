#!/usr/bin/env node
// Runs the compiled CLI (npm run build puts it under dist/).
import { main } from '../dist/control-plane/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`switchyard: ${err?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
