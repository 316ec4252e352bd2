// The loader's route watcher (loader/src/route_watch.c) through a real loader
// in a throwaway namespace: real netlink changes there (a route added, a
// neighbour's MAC changed, an IPv6 route, a policy rule) each move sy_fib_gen,
// the generation that invalidates the datapath's route-result cache; nothing
// moves it while nothing changes; its key-mode bits follow the policy rules,
// multipath routes and hash-policy sysctls of the namespace; a restarted
// loader continues from the pinned value. Needs root, bpffs and a built loader (make -C loader).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LoaderClient as AgentLoaderClient } from "../../control-plane/src/dataplane/ebpf/loader-client.js";
import { Lab, type LoaderProcess, sleep, waitFor, withLoaderLogs } from "./lab.js";

describe("switchyard-loader route watcher: sy_fib_gen follows netlink changes", { timeout: 60000 }, () => {
  let lab: Lab;
  let ns: string;
  let inst: string;
  let loader: LoaderProcess | undefined;
  let agent: AgentLoaderClient | undefined;

  const gen = async (): Promise<number> => {
    const [v] = await agent!.lookup("sy_fib_gen", [new Uint8Array(4)]);
    assert.ok(v, "sy_fib_gen[0] readable");
    return Buffer.from(v).readUInt32LE(0);
  };
  /** The generation once it stopped moving for 300 ms (late notifications of earlier steps). */
  const settled = async (): Promise<number> => {
    let last = await gen();
    for (;;) {
      await sleep(300);
      const now = await gen();
      if (now === last) return now;
      last = now;
    }
  };
  /** Runs `ip -n ns ...args` and waits for the generation to move past the settled one. */
  const bumps = async (what: string, ...args: string[]): Promise<void> => {
    const before = await settled();
    lab.ip(ns, ...args);
    await waitFor(`${what}: sy_fib_gen past ${before}`, async () => ((await gen()) > before ? true : undefined), 5000, 20);
  };

  before(async () => {
    lab = new Lab();
    ns = lab.netns("r");
    inst = lab.instance("r");
    lab.ip(ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    lab.ip(ns, "link", "set", "d0", "up");
    lab.ip(ns, "addr", "add", "198.18.7.1/24", "dev", "d0");
    lab.ip(ns, "-6", "addr", "add", "fd00:7::1/64", "dev", "d0", "nodad");
    loader = await lab.startLoader(ns, inst, []);
    agent = new AgentLoaderClient(loader.socketPath, 30_000);
  });

  after(async () => {
    agent?.close();
    await lab?.cleanup();
  });

  const withLogs = (fn: () => Promise<void>): Promise<void> => withLoaderLogs(() => loader, fn);

  it("is on (nonzero) after start, and stays put while nothing changes", () =>
    withLogs(async () => {
      const g = await settled();
      assert.ok(g > 0, `sy_fib_gen ${g}: 0 would mean the cache is off`);
      await sleep(500);
      assert.equal(await gen(), g, "no change, no bump");
      assert.ok(loader!.logs.some((l) => /route watch: on/.test(l)), loader!.tail());
    }));

  it("moves on a route added, a neighbour's MAC changed, an IPv6 route and a policy rule", () =>
    withLogs(async () => {
      await bumps("IPv4 route", "route", "add", "198.18.8.0/24", "via", "198.18.7.2", "dev", "d0");
      await bumps("neighbour added", "neigh", "replace", "198.18.7.2", "lladdr", "02:00:00:00:07:02", "dev", "d0", "nud", "permanent");
      await bumps("neighbour lladdr changed", "neigh", "replace", "198.18.7.2", "lladdr", "02:00:00:00:07:03", "dev", "d0", "nud", "permanent");
      await bumps("IPv6 route", "-6", "route", "add", "fd00:8::/64", "via", "fd00:7::2", "dev", "d0");
      await bumps("policy rule", "rule", "add", "from", "198.18.9.0/24", "table", "100");
    }));

  // The key mode (loader/src/fib_key_mode.c): sy_fib_gen's low bits say per family whether the cache
  // may leave the protocol, ports and IPv6 flow label out of its key.
  const V4 = 1;
  const V6 = 2;
  const modeIs = async (what: string, want: number): Promise<void> => {
    await waitFor(`${what}: key mode ${want}`, async () => (((await gen()) & 3) === want ? true : undefined), 5000, 20);
  };
  const sysctl = (name: string, value: number) => lab.exec(ns, "sysctl", ["-qw", `${name}=${value}`]);

  it("short key per family unless a rule selects on protocol or ports, or a multipath route hashes them", () =>
    withLogs(async () => {
      await modeIs("no L4 rule, no multipath route", V4 | V6);
      lab.ip(ns, "rule", "add", "ipproto", "tcp", "table", "100");
      await modeIs("IPv4 rule ipproto tcp", V6);
      lab.ip(ns, "rule", "del", "ipproto", "tcp", "table", "100");
      await modeIs("IPv4 rule ipproto tcp deleted", V4 | V6);
      lab.ip(ns, "-6", "rule", "add", "dport", "80", "table", "100");
      await modeIs("IPv6 rule dport 80", V4);
      lab.ip(ns, "-6", "rule", "del", "dport", "80", "table", "100");
      await modeIs("IPv6 rule dport 80 deleted", V4 | V6);
      // IPv4 multipath: the default L3 hash (policy 0) sees the addresses only.
      lab.ip(ns, "route", "add", "198.18.10.0/24", "nexthop", "via", "198.18.7.2", "nexthop", "via", "198.18.7.3");
      await sleep(300);
      await modeIs("IPv4 multipath route under hash policy 0", V4 | V6);
      // The sysctl sends no notification: the loader reads it every 2 s.
      sysctl("net.ipv4.fib_multipath_hash_policy", 1);
      await modeIs("IPv4 multipath route under hash policy 1 (L4)", V6);
      sysctl("net.ipv4.fib_multipath_hash_policy", 0);
      await modeIs("IPv4 hash policy back to 0", V4 | V6);
      // IPv6 multipath: its L3 hash already has the flow label and the protocol.
      lab.ip(ns, "-6", "route", "add", "fd00:10::/64", "nexthop", "via", "fd00:7::2", "dev", "d0", "nexthop", "via", "fd00:7::3", "dev", "d0");
      await modeIs("IPv6 multipath route", V4);
      // ... unless the custom policy hashes the addresses only.
      sysctl("net.ipv6.fib_multipath_hash_fields", 3);
      sysctl("net.ipv6.fib_multipath_hash_policy", 3);
      await modeIs("IPv6 multipath route under custom hash of the addresses", V4 | V6);
      sysctl("net.ipv6.fib_multipath_hash_policy", 0);
      await modeIs("IPv6 hash policy back to 0", V4);
      lab.ip(ns, "-6", "route", "del", "fd00:10::/64");
      await modeIs("IPv6 multipath route deleted", V4 | V6);
    }));

  it("a restarted loader continues from the pinned generation (never reuses one)", () =>
    withLogs(async () => {
      const g = await settled();
      agent!.close();
      await loader!.stop();
      loader = await lab.startLoader(ns, inst, []);
      agent = new AgentLoaderClient(loader.socketPath, 30_000);
      assert.ok((await gen()) > g, `after restart ${await gen()}, before ${g}`);
    }));
});
