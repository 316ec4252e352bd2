// Socket-level load balancing for AF_INET6 sockets (cgroup connect6,
// sendmsg6, recvmsg6, getpeername6; bpf/include/sy_sock6.h), with real
// sockets: a client namespace in a cgroup of its own (never the root
// cgroup), a server namespace, addresses from fd00::/8 and 198.18.0.0/15.
// Both families are programmed through the loader (16-byte addresses go to
// the *6 maps, SetConfig.node_addr6 to sy_config6); what the programs write
// (sy_sock_revnat6, sy_affinity6) is read from the pins with bpftool.
// Needs root, bpffs, cgroup v2 and a built loader.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { call, type MapEntry, type Response } from "./loader-client.js";
import { Lab, type LoaderProcess, run, withLoaderLogs } from "./lab.js";

// ---- byte layouts (bpf/include/sy_structs.h) --------------------------------

const ip4 = (s: string): Buffer => Buffer.from(s.split(".").map((x) => Number(x)));
/** An IPv6 address in network order (16 bytes); "::" compression allowed. */
function ip6(s: string): Buffer {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const words = (part: string | undefined) => (part ? part.split(":").map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  assert.equal(all.length, 8, `IPv6 address ${s}`);
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}
const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const be16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

const TCP = 6;
const UDP = 17;
const SY_SCOPE_EXTERNAL = 0;
const SY_SCOPE_INTERNAL = 1;
const SY_SVC_F_CLUSTERIP = 1;
const SY_SVC_F_NODEPORT = 1 << 1;
const SY_SVC_F_AFFINITY = 1 << 6;
const SY_SVC_F_SOURCE_RANGE = 1 << 7;
const SY_BE_ACTIVE = 0;
const SY_BE_TERMINATING = 1;
const SY_CFG_F_POD_UDP_CONNECT_TC = 1 << 1;
const SY_CNT_SOCK_CONNECT = 12;
const SY_CNT_SOCK_SENDMSG = 13;
const SY_HOOK_SOCK_LB = 2;

/** Loader ops for the IPv6 maps (the address length picks the family). */
const service6 = (addr: string, port: number, proto: number, id: number, group: number, count: number, flags: number, o: { scope?: number; affinityTimeout?: number; tableSize?: number } = {}) => ({
  upsertService: { key: { addr: ip6(addr), port, proto, scope: o.scope ?? SY_SCOPE_EXTERNAL }, id, group, count, flags, affinityTimeout: o.affinityTimeout ?? 0, tableSize: o.tableSize ?? 7 },
});
const backend6 = (id: number, addr: string, port: number, proto: number, state = SY_BE_ACTIVE) => ({ upsertBackend: { id, addr: ip6(addr), port, proto, state } });
/** SetConfig of this node: both families' addresses (SetConfig writes sy_config6 too). */
const config = (flags = 0) => ({ setConfig: { flowHashSeed: 5, flags, nodeAddr: ip4(CLIENT4), nodeAddr6: ip6(CLIENT6) } });

const hexBuf = (a: string[]) => Buffer.from(a.map((h) => parseInt(h, 16)));

// ---- the lab ------------------------------------------------------------------

const CLIENT4 = "198.18.4.2"; // sy_config.node_addr
const CLIENT6 = "fd00:4::2"; // sy_config6.node_addr
const SERVER4 = "198.18.4.3";
const SERVER6 = "fd00:4::3"; // backend 1 (TCP), 2 (UDP)
const SERVER6B = "fd00:4::4"; // backend 3 (TCP)
const VIP6 = "fd00:250::40";
const VIP6_NOEP = "fd00:250::41";
const VIP6_AFF = "fd00:250::42";
const VIP6_TERM = "fd00:250::43";
const VIP6_SCOPED = "fd00:250::44";
const VIP6_NONE = "fd00:250::45"; // no entry at all
const VIP6_RANGE = "fd00:250::46"; // source ranges: left to tc
const VIP4 = "198.18.250.40"; // an IPv4 Service, reached through ::ffff:198.18.250.40
const NODEPORT = 30080;

const SERVER_JS = `
const net = require("net"), dgram = require("dgram");
const addrs = process.argv.slice(1);
let up = 0;
const ready = () => { if (++up === addrs.length * 2) console.log("ready"); };
for (const a of addrs) {
  net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => s.end("tcp " + s.remoteAddress + " " + s.localAddress));
  }).listen(8080, a, ready);
  const u = dgram.createSocket(net.isIPv6(a) ? "udp6" : "udp4");
  u.on("message", (m, r) => u.send("udp " + r.address + " " + a, r.port, r.address));
  u.bind(8080, a, ready);
}
`;

/** Runs the named probes in order; prints one JSON object of what each socket saw. */
const CLIENT_JS = `
const net = require("net"), dgram = require("dgram");
const tcp = (host, port) => new Promise((res) => {
  const s = net.connect({ host, port });
  let peer = "", data = "";
  s.on("connect", () => { peer = s.remoteAddress + "/" + s.remotePort; s.write("ping"); });
  s.on("data", (c) => (data += c));
  s.on("end", () => res({ peer, data }));
  s.on("error", (e) => res({ error: e.code }));
  setTimeout(() => res({ error: "timeout" }), 3000);
});
const udp = (host, port, connected) => new Promise((res) => {
  const u = dgram.createSocket("udp6");
  let peer = "";
  u.on("message", (m, r) => { u.close(); res({ peer, from: r.address + "/" + r.port, data: String(m) }); });
  u.on("error", (e) => res({ error: e.code }));
  if (connected) u.connect(port, host, (err) => { if (err) return res({ error: err.code }); const a = u.remoteAddress(); peer = a.address + "/" + a.port; u.send("ping"); });
  else u.send("ping", port, host);
  setTimeout(() => res({ error: "timeout" }), 3000);
});
const probes = {
  tcp: () => tcp("${VIP6}", 80),
  udp: () => udp("${VIP6}", 80, false),
  udpc: () => udp("${VIP6}", 80, true),
  noep: () => tcp("${VIP6_NOEP}", 80),
  lo: () => tcp("::1", ${NODEPORT}),
  node: () => tcp("${CLIENT6}", ${NODEPORT}),
  direct: () => tcp("${SERVER6}", 8080),
  none: () => tcp("${VIP6_NONE}", 80),
  range: () => tcp("${VIP6_RANGE}", 80),
  mapped: () => tcp("::ffff:${VIP4}", 80),
  mappedUdp: () => udp("::ffff:${VIP4}", 80, false),
  mappedUdpc: () => udp("::ffff:${VIP4}", 80, true),
  aff: () => tcp("${VIP6_AFF}", 80),
  term: () => tcp("${VIP6_TERM}", 80),
  scoped: () => tcp("${VIP6_SCOPED}", 80),
};
(async () => {
  const out = {};
  for (const name of process.argv.slice(1)) {
    const [probe, n] = name.split("*");
    if (n) { out[name] = []; for (let i = 0; i < Number(n); i++) out[name].push(await probes[probe]()); }
    else out[name] = await probes[name]();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})();
`;

interface Seen {
  peer?: string;
  from?: string;
  data?: string;
  error?: string;
}

function waitLine(p: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} after ${timeoutMs} ms: ${buf}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    p.stdout?.on("data", onData);
    p.stderr?.on("data", (d: Buffer) => (buf += d.toString()));
    p.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${re}: ${buf}`));
    });
  });
}

function assertOk(r: Response, what: string): void {
  assert.equal(r.code, "OK", `${what}: ${r.code} ${r.error}`);
}

function find(entries: MapEntry[], key: Buffer): MapEntry | undefined {
  return entries.find((e) => Buffer.from(e.key).equals(key));
}

describe("socket-level load balancing for IPv6 and IPv4-mapped sockets (cgroup connect6/sendmsg6/recvmsg6/getpeername6)", { timeout: 120000 }, () => {
  let lab: Lab;
  let cns = "";
  let loader: LoaderProcess | undefined;
  let sock = "";
  let pins = "";
  let cg = "";

  const pin = (map: string) => path.join(pins, map);
  const apply = async (what: string, ...ops: object[]) => assertOk(await call(sock, { apply: { ops } }), what);
  const dump = (map: string): Array<{ key: Buffer; value: Buffer }> =>
    (JSON.parse(run("bpftool", ["-j", "map", "dump", "pinned", pin(map)]).stdout) as Array<{ key: string[]; value: string[] }>).map((e) => ({
      key: hexBuf(e.key),
      value: hexBuf(e.value),
    }));
  const clientIn = async (ns: string, ...probes: string[]) => {
    const r = await lab.execInCgroup(cg, ns, "node", ["-e", CLIENT_JS, ...probes], 30000);
    assert.equal(r.code, 0, `client: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, Seen & Seen[]>;
  };
  const client = (...probes: string[]) => clientIn(cns, ...probes);
  const counters = async () => {
    const d = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
    const cnt = (i: number) => Buffer.from(find(d.entries, u32le(i))!.value).readBigUInt64LE(0);
    return { connect: cnt(SY_CNT_SOCK_CONNECT), sendmsg: cnt(SY_CNT_SOCK_SENDMSG) };
  };
  const withLogs = (fn: () => Promise<void>): Promise<void> => withLoaderLogs(() => loader, fn);

  before(async () => {
    lab = new Lab();
    cns = lab.netns("k");
    const sns = lab.netns("v");
    lab.veth(cns, "k0", sns, "v0");
    lab.ip(cns, "addr", "add", `${CLIENT4}/24`, "dev", "k0");
    lab.ip(sns, "addr", "add", `${SERVER4}/24`, "dev", "v0");
    // nodad: usable at once (no duplicate address detection delay).
    lab.ip(cns, "-6", "addr", "add", `${CLIENT6}/64`, "dev", "k0", "nodad");
    lab.ip(sns, "-6", "addr", "add", `${SERVER6}/64`, "dev", "v0", "nodad");
    lab.ip(sns, "-6", "addr", "add", `${SERVER6B}/64`, "dev", "v0", "nodad");
    await waitLine(lab.spawnIn(sns, "node", ["-e", SERVER_JS, SERVER6, SERVER6B, SERVER4]), /ready/, 15000);
    cg = lab.cgroup("s6");
    const instance = lab.instance("s6");
    loader = await lab.startLoader(cns, instance);
    sock = loader.socketPath;
    pins = lab.pinDir(instance);

    // Shared by the families: sy_config (seed, flags), sy_maglev, ids.
    // Backends first, services last.
    assertOk(
      await call(sock, {
        apply: {
          ops: [
            config(),
            backend6(1, SERVER6, 8080, TCP),
            backend6(2, SERVER6, 8080, UDP),
            backend6(3, SERVER6B, 8080, TCP),
            { upsertBackend: { id: 4, addr: ip4(SERVER4), port: 8080, proto: TCP } },
            { upsertBackend: { id: 5, addr: ip4(SERVER4), port: 8080, proto: UDP } },
            { upsertRevnat: { id: 100, addr: ip4(VIP4), port: 80 } },
            { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
            { setMaglev: { group: 2, backendIds: [2, 2, 2, 2, 2, 2, 2] } },
            { setMaglev: { group: 3, backendIds: [1, 3, 1, 3, 1, 3, 1] } },
            { setMaglev: { group: 4, backendIds: [4, 4, 4, 4, 4, 4, 4] } },
            { setMaglev: { group: 5, backendIds: [5, 5, 5, 5, 5, 5, 5] } },
            { setMaglev: { group: 6, backendIds: [3, 3, 3, 3, 3, 3, 3] } },
            { upsertService: { key: { addr: ip4(VIP4), port: 80, proto: TCP }, id: 100, group: 4, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
            { upsertService: { key: { addr: ip4(VIP4), port: 80, proto: UDP }, id: 100, group: 5, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
            { upsertRevnat: { id: 200, addr: ip6(VIP6), port: 80 } },
            service6(VIP6, 80, TCP, 200, 1, 1, SY_SVC_F_CLUSTERIP),
            service6(VIP6, 80, UDP, 200, 2, 1, SY_SVC_F_CLUSTERIP),
            service6(VIP6_NOEP, 80, TCP, 201, 7, 0, SY_SVC_F_CLUSTERIP, { tableSize: 0 }),
            service6(CLIENT6, NODEPORT, TCP, 205, 1, 1, SY_SVC_F_NODEPORT),
            service6(VIP6_RANGE, 80, TCP, 206, 1, 1, SY_SVC_F_CLUSTERIP | SY_SVC_F_SOURCE_RANGE),
            // iTP and eTP differ: the internal-scope entry is the one sockets use.
            service6(VIP6_SCOPED, 80, TCP, 204, 1, 1, SY_SVC_F_CLUSTERIP, { scope: SY_SCOPE_EXTERNAL }),
            service6(VIP6_SCOPED, 80, TCP, 204, 6, 1, SY_SVC_F_CLUSTERIP, { scope: SY_SCOPE_INTERNAL }),
          ],
        },
      }),
      "programming",
    );
    // What the loader wrote (the IPv6 half of SetConfig).
    const cfg6 = dump("sy_config6")[0]!.value;
    assert.deepEqual(cfg6.subarray(0, 16), ip6(CLIENT6), "sy_config6.node_addr");
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("the SOCK_LB hook attaches the IPv6 programs beside the IPv4 ones", () =>
    withLogs(async () => {
      const a = (await call(sock, { attach: { hook: "SOCK_LB", cgroupPath: cg } })).attach!;
      assert.equal(a.mode, "cgroup");
      const show = run("bpftool", ["cgroup", "show", cg]).stdout;
      for (const [type, prog] of [
        ["inet4_connect", "sy_connect4"],
        ["udp4_sendmsg", "sy_sendmsg4"],
        ["udp4_recvmsg", "sy_recvmsg4"],
        ["inet4_getpeername", "sy_getpeername4"],
        ["inet6_connect", "sy_connect6"],
        ["udp6_sendmsg", "sy_sendmsg6"],
        ["udp6_recvmsg", "sy_recvmsg6"],
        ["inet6_getpeername", "sy_getpeername6"],
      ]) {
        assert.match(show, new RegExp(`cgroup_${type}\\s.*\\s${prog}\\s`), `${prog} attached (${show})`);
      }
      const links = run("ls", [path.join(pins, "links")]).stdout.split("\n").filter((l) => l.startsWith("sock_"));
      assert.equal(links.length, 8, `eight link pins: ${links.join(" ")}`);
      const probe = new Map((await call(sock, { probe: {} })).probe!.features.map((f) => [f.name, f]));
      for (const f of ["program:sy_connect6", "program:sy_sendmsg6", "program:sy_recvmsg6", "program:sy_getpeername6"]) {
        assert.equal(probe.get(f)?.available, true, `${f}: ${probe.get(f)?.detail}`);
      }
    }));

  it("IPv6 ClusterIP: connect() and sendto() reach the backend; getpeername() and recvfrom() show the frontend", () =>
    withLogs(async () => {
      const c0 = await counters();
      const out = await client("tcp", "udp", "udpc", "noep", "lo", "node");
      assert.deepEqual(out.tcp, { peer: `${VIP6}/80`, data: `tcp ${CLIENT6} ${SERVER6}` }, "TCP: getpeername() is the VIP, the server sees the client");
      assert.deepEqual(out.udp, { peer: "", from: `${VIP6}/80`, data: `udp ${CLIENT6} ${SERVER6}` }, "unconnected UDP: recvfrom() sees the VIP");
      assert.deepEqual(out.udpc, { peer: `${VIP6}/80`, from: `${VIP6}/80`, data: `udp ${CLIENT6} ${SERVER6}` }, "connected UDP");
      assert.deepEqual(out.noep, { error: "ECONNREFUSED" }, "no endpoint: connect() refused at once");
      assert.deepEqual(out.lo, { peer: `::1/${NODEPORT}`, data: `tcp ${CLIENT6} ${SERVER6}` }, "NodePort on ::1");
      assert.deepEqual(out.node, { peer: `${CLIENT6}/${NODEPORT}`, data: `tcp ${CLIENT6} ${SERVER6}` }, "NodePort on the node's IPv6 address");
      const c1 = await counters();
      assert.equal(c1.connect - c0.connect, 4n, "SY_CNT_SOCK_CONNECT: tcp, connected udp, ::1, node address");
      assert.equal(c1.sendmsg - c0.sendmsg, 1n, "SY_CNT_SOCK_SENDMSG: the unconnected datagram");

      const st = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      const vip = find(st.entries, Buffer.concat([u32le(200), u32le(SY_HOOK_SOCK_LB)]));
      assert.ok(vip, "sy_svc_stats {VIP6, sock}");
      assert.equal(Buffer.from(vip.value).readBigUInt64LE(0), 3n, "sy_svc_stats {VIP6, sock}: 3 translations");

      // sy_sock_revnat6: {cookie, backend addr, port} -> {frontend, port, id}.
      const rn = dump("sy_sock_revnat6").filter((e) => e.key.subarray(8, 24).equals(ip6(SERVER6)));
      assert.ok(rn.length >= 3, `entries {cookie, [${SERVER6}]:8080}: ${rn.length}`);
      for (const e of rn) {
        assert.equal(e.key.length, 32);
        assert.equal(e.key.readUInt16BE(24), 8080);
        assert.equal(e.value.length, 24);
        const fe = e.value.subarray(0, 16);
        const portId = [e.value.readUInt16BE(16), e.value.readUInt32LE(20)];
        if (fe.equals(ip6(VIP6))) assert.deepEqual(portId, [80, 200]);
        else assert.deepEqual(portId, [NODEPORT, 205], "a NodePort: the address used (::1 or the node's) is recorded");
      }
      for (const fe of [VIP6, "::1", CLIENT6]) assert.ok(rn.some((e) => e.value.subarray(0, 16).equals(ip6(fe))), `the frontend ${fe} is recorded`);

      // A process outside the cgroup is not balanced: the VIP is unroutable there.
      const outside = await lab.execAsync(cns, "node", ["-e", CLIENT_JS, "tcp"], 15000);
      assert.equal(JSON.parse(outside.stdout).tcp.error, "ENETUNREACH");
    }));

  it("addresses without IPv6 entries are untouched: a plain IPv6 peer, a VIP of no IPv6 Service, a source-range frontend", () =>
    withLogs(async () => {
      const c0 = await counters();
      const out = await client("direct", "none", "range");
      assert.deepEqual(out.direct, { peer: `${SERVER6}/8080`, data: `tcp ${CLIENT6} ${SERVER6}` }, "a non-service address goes where it was going");
      assert.deepEqual(out.none, { error: "ENETUNREACH" }, "no IPv6 entry: untouched (and unroutable)");
      assert.deepEqual(out.range, { error: "ENETUNREACH" }, "source ranges are left to tc");
      const c1 = await counters();
      assert.equal(c1.connect - c0.connect, 0n, "nothing translated");
    }));

  it("IPv4-mapped sockets reach an IPv4 Service through the IPv4 maps and see ::ffff:<frontend>", () =>
    withLogs(async () => {
      const c0 = await counters();
      const out = await client("mapped", "mappedUdp", "mappedUdpc");
      assert.deepEqual(out.mapped, { peer: `::ffff:${VIP4}/80`, data: `tcp ${CLIENT4} ${SERVER4}` }, "TCP (connect6): getpeername6 shows the mapped VIP");
      assert.deepEqual(out.mappedUdp, { peer: "", from: `::ffff:${VIP4}/80`, data: `udp ${CLIENT4} ${SERVER4}` }, "unconnected UDP (sendmsg4 in the kernel), recvmsg6 shows the mapped VIP");
      assert.deepEqual(out.mappedUdpc, { peer: `::ffff:${VIP4}/80`, from: `::ffff:${VIP4}/80`, data: `udp ${CLIENT4} ${SERVER4}` }, "connected UDP (connect6)");
      const c1 = await counters();
      assert.equal(c1.connect - c0.connect, 2n, "the TCP and the UDP connect()");
      assert.equal(c1.sendmsg - c0.sendmsg, 1n, "the unconnected datagram");
      // The IPv4 reverse map holds them (the IPv4 backend, the IPv4 VIP).
      const rn = (await call(sock, { dump: { map: "sy_sock_revnat" } })).dump!;
      const e = rn.entries.filter((x) => Buffer.from(x.key).subarray(8, 14).equals(Buffer.concat([ip4(SERVER4), be16(8080)])));
      assert.equal(e.length, 3, "three sockets in sy_sock_revnat");
      for (const x of e) assert.deepEqual(Buffer.from(x.value).subarray(0, 6), Buffer.concat([ip4(VIP4), be16(80)]));
      const mappedPrefix = ip6("::ffff:0:0").subarray(0, 12);
      assert.equal(dump("sy_sock_revnat6").some((x) => x.key.subarray(8, 20).equals(mappedPrefix)), false, "nothing IPv4-mapped in sy_sock_revnat6");
    }));

  it("iTP scope: the internal-scope entry of a frontend serves sockets", () =>
    withLogs(async () => {
      const out = await client("scoped*4");
      for (const s of out["scoped*4"] as Seen[]) assert.deepEqual(s, { peer: `${VIP6_SCOPED}/80`, data: `tcp ${CLIENT6} ${SERVER6B}` });
    }));

  it("ClientIP affinity in sy_affinity6; a terminating backend is never chosen by affinity; terminating fallback still serves", () =>
    withLogs(async () => {
      await apply("affinity service", service6(VIP6_AFF, 80, TCP, 202, 3, 2, SY_SVC_F_CLUSTERIP | SY_SVC_F_AFFINITY, { affinityTimeout: 600 }));
      const out = await client("aff*8");
      const seen = (out["aff*8"] as Seen[]).map((s) => {
        assert.equal(s.peer, `${VIP6_AFF}/80`, JSON.stringify(s));
        return s.data!.split(" ")[2]!;
      });
      // Without affinity every socket hashes on its own (7 slots, 4 of one
      // backend): 8 sockets on one backend by chance is unlikely (< 2 %).
      assert.equal(new Set(seen).size, 1, `one backend for every socket of the client: ${seen.join(" ")}`);
      const sticky = seen[0]!;
      const aff = dump("sy_affinity6").filter((e) => e.key.readUInt32LE(16) === 3);
      assert.equal(aff.length, 1, "one sy_affinity6 entry for the group");
      const k = aff[0]!.key;
      assert.equal(k.length, 20);
      assert.deepEqual([k.readUInt32BE(0), k.readUInt32BE(4)], [0, 0], "an unbound socket's client: its netns cookie in words 2-3");
      assert.notEqual(k.readBigUInt64BE(8), 0n);
      const stickyId = sticky === SERVER6 ? 1 : 3;
      assert.equal(aff[0]!.value.readUInt32LE(8), stickyId, "the entry holds the backend");

      // The sticky backend terminates: the control plane drops it from the
      // table, the affinity entry still names it: it takes no new flow.
      const otherId = stickyId === 1 ? 3 : 1;
      const other = stickyId === 1 ? SERVER6B : SERVER6;
      await apply("table without the terminating backend", backend6(stickyId, sticky, 8080, TCP, SY_BE_TERMINATING), { setMaglev: { group: 3, backendIds: new Array(7).fill(otherId) } });
      const out2 = await client("aff*3");
      for (const s of out2["aff*3"] as Seen[]) assert.equal(s.data, `tcp ${CLIENT6} ${other}`, "not the terminating backend");
      assert.equal(dump("sy_affinity6").find((e) => e.key.readUInt32LE(16) === 3)!.value.readUInt32LE(8), otherId, "affinity moved");

      // Terminating fallback: no ready endpoint, the table holds the
      // terminating one (the control plane's fallback): it still serves.
      await apply("terminating fallback", backend6(1, SERVER6, 8080, TCP, SY_BE_TERMINATING), service6(VIP6_TERM, 80, TCP, 203, 1, 1, SY_SVC_F_CLUSTERIP));
      const out3 = await client("term");
      assert.deepEqual(out3.term, { peer: `${VIP6_TERM}/80`, data: `tcp ${CLIENT6} ${SERVER6}` });
      await apply("backends active again", backend6(1, SERVER6, 8080, TCP), backend6(3, SERVER6B, 8080, TCP));
    }));

  it("with POD_UDP_CONNECT_TC, a pod's IPv6 UDP connect() is left to tc, TCP is translated", () =>
    withLogs(async () => {
      // A pod: another namespace in the same cgroup, without routes, so every
      // connect() fails (ENETUNREACH) after the program ran; the counter
      // tells whether it translated.
      const pns = lab.netns("p");
      await apply("flag", config(SY_CFG_F_POD_UDP_CONNECT_TC));
      try {
        let c0 = await counters();
        assert.deepEqual((await clientIn(pns, "udpc")).udpc, { error: "ENETUNREACH" });
        assert.equal((await counters()).connect - c0.connect, 0n, "a pod's UDP connect() is left alone");
        c0 = await counters();
        assert.deepEqual((await clientIn(pns, "tcp")).tcp, { error: "ENETUNREACH" });
        assert.equal((await counters()).connect - c0.connect, 1n, "a pod's TCP connect() is translated");
        c0 = await counters();
        const out = await client("udpc");
        assert.deepEqual(out.udpc, { peer: `${VIP6}/80`, from: `${VIP6}/80`, data: `udp ${CLIENT6} ${SERVER6}` }, "the node's own connected UDP is translated");
        assert.equal((await counters()).connect - c0.connect, 1n);
      } finally {
        await apply("flag off", config());
      }
    }));

  it("detach removes all eight links; IPv6 sockets are not balanced any more", () =>
    withLogs(async () => {
      assertOk(await call(sock, { detach: { hook: "SOCK_LB", cgroupPath: cg } }), "detach");
      assert.equal(run("bpftool", ["cgroup", "show", cg]).stdout.trim(), "", "no program left on the cgroup");
      const links = run("ls", [path.join(pins, "links")], { allowFail: true }).stdout;
      assert.doesNotMatch(links, /sock_/, "link pins removed");
      const out = await client("tcp", "mapped");
      assert.deepEqual(out.tcp, { error: "ENETUNREACH" });
      assert.deepEqual(out.mapped, { error: "ENETUNREACH" });
    }));
});
