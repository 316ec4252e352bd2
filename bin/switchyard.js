#!/usr/bin/env node
// Runs the compiled CLI (npm run build puts it under dist/).
import { main } from '../dist/cli/main.js';

// stdout to a pipe is asynchronous: exit only once what was written is out
// (a large `-o json` was cut short by process.exit otherwise).
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (err) => {
    process.stderr.write(`switchyard: ${err?.stack ?? String(err)}\n`);
    exit(1);
  },
);
