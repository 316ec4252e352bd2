// `switchyard cleanup --datapath [--loader-socket PATH]`: on a node, removes
// what either mode programmed in the current network namespace: KUBE-* chains
// (legacy and nft) and, through the loader, the BPF programs and pins.
export async function cleanupDatapath(argv: string[]): Promise<number> {
  const i = argv.indexOf('--loader-socket');
  const socket = i >= 0 ? argv[i + 1] : '/run/switchyard/loader.sock';
  const { cleanupAll } = await import('../dataplane/iptables/cleanup.js');
  const { commandExec } = await import('../dataplane/iptables/runner.js');
  const { LoaderClient } = await import('../dataplane/ebpf/loader-client.js');
  let rc = 0;
  try {
    const reports = await cleanupAll(commandExec());
    process.stdout.write(`iptables: ${reports.length ? JSON.stringify(reports) : 'nothing to remove'}\n`);
  } catch (err) {
    process.stderr.write(`iptables cleanup failed: ${(err as Error).message}\n`);
    rc = 1;
  }
  const loader = new LoaderClient(socket!, 10_000);
  try {
    await loader.cleanup();
    process.stdout.write(`ebpf: loader at ${socket} detached its programs and removed its pins\n`);
  } catch (err) {
    process.stdout.write(`ebpf: no loader at ${socket} (${(err as Error).message})\n`);
  } finally {
    loader.close();
  }
  return rc;
}
