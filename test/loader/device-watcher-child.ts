// The agent's DeviceWatcher in a process of its own, for device-watcher.test.ts:
// the test starts it inside a throwaway namespace (`ip netns exec`), so `ip
// monitor` and `ip link` see that namespace. It attaches the tc program (pod
// role) to every device named dwp*, through the loader socket given as the
// first argument, and prints its devices as one JSON line on stdout whenever
// they change (logs: pino JSON on stderr). Its loader client's write
// connection makes a cheap request every 200 ms, as the agent's syncs do, so a
// restarted loader is reconnected to as in the agent.
import { pino } from 'pino';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { DeviceWatcher, deviceMatcher } from '../../control-plane/src/devices/device-watcher.js';

const socket = process.argv[2];
if (!socket) {
  process.stderr.write('usage: device-watcher-child.js LOADER_SOCKET\n');
  process.exit(2);
}
const loader = new LoaderClient(socket, 5000);
const log = pino({ level: 'info' }, pino.destination({ fd: 2, sync: true }));
const watcher = new DeviceWatcher(loader, { external: () => false, pod: deviceMatcher('dwp+'), xdp: false }, log);

let last = '';
const report = (): void => {
  const now = JSON.stringify(watcher.devices());
  if (now === last) return;
  last = now;
  process.stdout.write(`${JSON.stringify({ devices: watcher.devices() })}\n`);
};
const timers = [
  setInterval(report, 50),
  setInterval(() => void loader.call({ status: { skipEntryCounts: true, countMaps: [] } }).catch(() => undefined), 200),
];

process.on('SIGTERM', () => {
  for (const t of timers) clearInterval(t);
  watcher.stop(); // ends its `ip monitor`
  loader.close();
  process.exit(0);
});

await watcher.start();
report();
process.stdout.write(`${JSON.stringify({ started: true })}\n`);
