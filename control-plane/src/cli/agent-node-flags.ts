// Node.js flags every agent process is started with (the lab daemon and
// deploy/daemonset.yaml both use them; test/deploy checks the manifest).
//
// --max-semi-space-size=4: V8's young generation may grow to 3 x 16 MiB by
// default; an agent allocates in bursts (a full sync) and then idles, so the
// big nursery mostly holds memory. 4 MiB semi-spaces cost more, smaller
// scavenges and saved ~30 MiB of RSS at 10,000 Services x 10 endpoints
// (bench/agent-memory.ts; docs/benchmarks.md).
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
