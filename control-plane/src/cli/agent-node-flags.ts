// Node.js flags every agent process is started with (the lab daemon and
// deploy/daemonset.yaml both use them; test/deploy checks the manifest).
//
// --max-semi-space-size=4: V8's young generation may grow to 3 x 16 MiB by
// default; an agent allocates in bursts (a full sync) and then idles, so the
// big nursery mostly holds memory. 4 MiB semi-spaces cost more, smaller
// scavenges and saved ~30 MiB of RSS at 10,000 Services x 10 endpoints
// (bench/agent-memory.ts; docs/benchmarks.md).
//
// --no-memory-reducer, --expose-gc: V8's memory reducer runs up to three
// full collections some seconds after the agent goes idle, with main-thread
// steps and pauses of 20-37 ms that a change arriving then waits out; the
// agent collects once itself instead, right after its first sync
// (util/startup-gc.ts, which needs gc()).
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--no-memory-reducer', '--expose-gc'];
