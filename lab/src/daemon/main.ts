// Entry point of the lab daemon:
//   nsenter --net=/run/netns/<lab>-cp node dist/lab/src/daemon/main.js --state-dir DIR
// (started detached by `switchyard lab up`, output to DIR/daemon.log).
import { runDaemon } from './daemon.js';

runDaemon(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab daemon: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
