// Tests of the switchyard-loader daemon (loader/): the wire protocol and its
// error paths, map programming through apply/dump, and a real datapath
// (client <-> router <-> server namespaces) that must keep forwarding across
// loader restarts. Needs root, bpffs at /sys/fs/bpf and a built loader
// (make -C loader). Everything runs in namespaces named sy-lt-<random>-*.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { call, encodeRequest, LoaderClient, repoRoot, varint, type MapEntry, type Response } from "./loader-client.js";
import { LoaderClient as AgentLoaderClient } from "../../control-plane/src/dataplane/ebpf/loader-client.js";
import { Lab, type LoaderProcess, run, sleep, waitFor } from "./lab.js";

// ---- byte layouts (bpf/include/sy_structs.h) --------------------------------

const ip = (s: string): Buffer => Buffer.from(s.split(".").map((x) => Number(x)));
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
const u16le = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const backendValue = (addr: string, port: number, proto: number, state = 0, flags = 0, zone = 0) =>
  Buffer.concat([ip(addr), be16(port), Buffer.from([proto, state, flags, 0, 0, 0]), u32le(zone)]);
const svcKey = (addr: string, port: number, proto: number, scope = 0) =>
  Buffer.concat([ip(addr), be16(port), Buffer.from([proto, scope])]);
const svcValue = (id: number, group: number, count: number, flags: number, aff: number, m: number) =>
  Buffer.concat([u32le(id), u32le(group), u16le(count), u16le(flags), u32le(aff), u32le(m)]);
const revnatValue = (addr: string, port: number) => Buffer.concat([ip(addr), be16(port), Buffer.alloc(2)]);
const maglevValue = (ids: number[]) => Buffer.concat(ids.map(u32le));

const TCP = 6;
const UDP = 17;
const SY_SVC_F_CLUSTERIP = 1;
const SY_SVC_F_AFFINITY = 1 << 6;
const SY_SVC_F_DROP_NO_EP = 1 << 9;
const SY_SVC_F_HOST_EP = 1 << 10;
const SY_CT_FORWARD = 0;
const SY_CT_F_SEEN_REPLY = 1;
const SY_CT_F_ESTABLISHED = 0x20;
const SY_CT_F_CLOSING = 2;
const SEC = 1_000_000_000n;

// sy_ct_key (16 B) and sy_ct_value (32 B: ..., nat_addr at 20, nat_port at 24).
const ctKey = (saddr: string, daddr: string, sport: number, dport: number, proto: number, dir = SY_CT_FORWARD) =>
  Buffer.concat([ip(saddr), ip(daddr), be16(sport), be16(dport), Buffer.from([proto, dir, 0, 0])]);
const ctValue = (lastSeen: bigint, backendId: number, revNatId: number, flags: number, tcpFlags = 0, natAddr = "0.0.0.0", natPort = 0) => {
  const b = Buffer.alloc(32);
  ip(natAddr).copy(b, 20);
  b.writeUInt16BE(natPort, 24);
  b.writeBigUInt64LE(lastSeen, 0);
  b.writeUInt32LE(backendId, 8);
  b.writeUInt32LE(revNatId, 12);
  b.writeUInt16LE(tcpFlags, 16);
  b.writeUInt16LE(flags, 18);
  return b;
};
/** CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns() (libuv's hrtime on Linux). */
const monoNs = (): bigint => process.hrtime.bigint();
const hexArgs = (b: Buffer): string[] => [...b].map((x) => x.toString(16).padStart(2, "0"));
/** Writes one entry straight into a pinned map (as root, with bpftool). */
function bpftoolUpdate(pin: string, key: Buffer, value: Buffer): void {
  run("bpftool", ["map", "update", "pinned", pin, "key", "hex", ...hexArgs(key), "value", "hex", ...hexArgs(value)]);
}

interface BpftoolMapInfo {
  id: number;
  name: string;
  bytes_value: number;
  max_entries: number;
  flags: number;
  bytes_memlock: number;
}
/** The inner Maglev map of a group, read with bpftool: its info and its elements as [ids[0], ids[1]]. */
function innerMaglev(outerPin: string, group: number): { info: BpftoolMapInfo; elems: number[][] } {
  // Raw hex arrays: the outer value is the inner map's id (u32).
  const hex = (a: string[]) => Buffer.from(a.map((h) => parseInt(h, 16)));
  const outer = JSON.parse(run("bpftool", ["-j", "map", "dump", "pinned", outerPin]).stdout) as Array<{ key: string[]; value?: string[]; inner_map_id?: number }>;
  const e = outer.find((x) => hex(x.key).readUInt32LE(0) === group);
  assert.ok(e, `group ${group} in ${outerPin}`);
  const innerId = e.inner_map_id ?? hex(e.value!).readUInt32LE(0);
  const info = JSON.parse(run("bpftool", ["-j", "map", "show", "id", String(innerId)]).stdout) as BpftoolMapInfo;
  const dump = JSON.parse(run("bpftool", ["-j", "map", "dump", "id", String(innerId)]).stdout) as Array<{ key: string[]; value: string[] }>;
  const elems = dump
    .map((x) => {
      const k = hex(x.key).readUInt32LE(0);
      const v = hex(x.value);
      return [k, v.readUInt32LE(0), v.readUInt32LE(4)] as [number, number, number];
    })
    .sort((a, b) => a[0] - b[0])
    .map(([, a, b]) => [a, b]);
  return { info, elems };
}

function find(entries: MapEntry[], key: Buffer): MapEntry | undefined {
  return entries.find((e) => Buffer.from(e.key).equals(key));
}

function assertOk(r: Response, what: string): void {
  assert.equal(r.code, "OK", `${what}: ${r.code} ${r.error}`);
}

// An Ethernet + IPv4 + UDP packet with valid checksums, for test_run.
function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  // To lo's address (all zero): test_run classifies the frame on lo, and tc
  // serves only frames addressed to the host (PACKET_HOST).
  const eth = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0]), Buffer.from([2, 0, 0, 0, 0, 1]), be16(0x0800)]);
  const udpLen = 8 + payload.length;
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + udpLen, 2);
  iph[8] = 64;
  iph[9] = UDP;
  ip(src).copy(iph, 12);
  ip(dst).copy(iph, 16);
  const csum = (buf: Buffer, init = 0) => {
    let s = init;
    for (let i = 0; i < buf.length; i += 2) s += (buf[i]! << 8) + (i + 1 < buf.length ? buf[i + 1]! : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  iph.writeUInt16BE(~csum(iph) & 0xffff, 10);
  const udp = Buffer.concat([be16(sport), be16(dport), be16(udpLen), be16(0), payload]);
  const pseudo = Buffer.concat([ip(src), ip(dst), Buffer.from([0, UDP]), be16(udpLen)]);
  const c = ~csum(udp, csum(pseudo)) & 0xffff;
  udp.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return Buffer.concat([eth, iph, udp]);
}

/** Runs fn; on failure appends the loader's recent log lines to the error. */
async function withLogs(loaders: () => Array<LoaderProcess | undefined>, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const logs = loaders()
      .filter((l): l is LoaderProcess => !!l)
      .map((l) => `--- loader pid ${l.pid} ---\n${l.tail(30)}`)
      .join("\n");
    if (e instanceof Error) e.message += `\n${logs}`;
    throw e;
  }
}

// ---- 1 + 2: protocol, error paths, apply/dump ---------------------------------

describe("switchyard-loader protocol", { timeout: 60000 }, () => {
  let lab: Lab;
  let loader: LoaderProcess | undefined;
  let sock = "";
  let ns = "";
  let instance = "";
  const extra: LoaderProcess[] = [];
  const logs = () => [loader, ...extra];

  before(async () => {
    lab = new Lab();
    ns = lab.netns("p");
    instance = lab.instance("p");
    loader = await lab.startLoader(ns, instance, ["--max-message-bytes", "65536"]);
    sock = loader.socketPath;
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("creates a 0600 socket and pins every map", () =>
    withLogs(logs, async () => {
      assert.equal(statSync(sock).mode & 0o777, 0o600);
      const st = await call(sock, { status: {} });
      for (const m of ["sy_services", "sy_backends", "sy_revnat", "sy_maglev", "sy_conntrack", "sy_affinity", "sy_attach", "sy_config", "sy_counters", "sy_svc_stats", "sy_source_ranges", "sy_icmp_rate"]) {
        const info = st.status!.maps.find((x) => x.name === m);
        assert.ok(info, `status lists ${m}`);
        assert.ok(info.pinPath && existsSync(info.pinPath), `${m} pinned at ${info.pinPath}`);
        assert.ok(info.id > 0);
      }
      assert.equal(st.status!.maps.find((x) => x.name === "sy_maglev")!.type, "hash_of_maps");
      assert.equal(st.status!.maps.find((x) => x.name === "sy_conntrack")!.type, "lru_hash");
      assert.equal(st.status!.maps.find((x) => x.name === "sy_conntrack")!.valueSize, 32);
      assert.equal(st.status!.maps.find((x) => x.name === "sy_counters")!.type, "percpu_array");
      assert.equal(st.status!.maps.find((x) => x.name === "sy_svc_stats")!.type, "percpu_hash");
      assert.equal(st.status!.maps.find((x) => x.name === "sy_source_ranges")!.type, "lpm_trie");
      const rate = st.status!.maps.find((x) => x.name === "sy_icmp_rate")!;
      assert.equal(rate.type, "array");
      assert.equal(rate.valueSize, 16, "struct sy_rate_bucket");
      assert.equal(rate.maxEntries, 2, "SY_RL_MAX buckets");
    }));

  it("answers MALFORMED to garbage and keeps the connection", () =>
    withLogs(logs, async () => {
      const c = await LoaderClient.connect(sock);
      try {
        // A 6-byte message whose body is an unterminated varint.
        c.sendRaw(Buffer.concat([varint(6), Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff])]));
        const r = await c.next();
        assert.equal(r.code, "MALFORMED");
        assert.equal(r.seq, 0);
        assert.ok(r.error.length > 0);
        const st = await c.request({ status: {} });
        assertOk(st, "status after MALFORMED");
      } finally {
        c.destroy();
      }
    }));

  it("survives a truncated message and serves the next connection", () =>
    withLogs(logs, async () => {
      const c = await LoaderClient.connect(sock);
      c.sendRaw(Buffer.concat([varint(100), Buffer.alloc(10, 0x08)]));
      c.end();
      // The loader may say MALFORMED before closing; either way it closes.
      await c.waitClosed(5000);
      c.destroy();
      assert.ok(loader!.running, "loader still running");
      assertOk(await call(sock, { status: {} }), "status on a new connection");
    }));

  it("answers a request sent just before the client half-closes", () =>
    withLogs(logs, async () => {
      const c = await LoaderClient.connect(sock);
      c.sendRaw(encodeRequest({ seq: 77, status: {} }));
      c.end();
      const r = await c.next();
      assert.equal(r.seq, 77);
      assertOk(r, "status");
      await c.waitClosed(5000);
      c.destroy();
    }));

  it("answers OVERSIZED to a length above the limit, closes, keeps serving", () =>
    withLogs(logs, async () => {
      const c = await LoaderClient.connect(sock);
      c.sendRaw(varint(1 << 20));
      const r = await c.next();
      assert.equal(r.code, "OVERSIZED");
      await c.waitClosed(5000);
      c.destroy();
      assertOk(await call(sock, { status: {} }), "status after OVERSIZED");
    }));

  it("serves several clients at once", () =>
    withLogs(logs, async () => {
      const clients = await Promise.all([1, 2, 3, 4].map(() => LoaderClient.connect(sock)));
      try {
        // Interleaved: each client has a request in flight at the same time.
        const rs = await Promise.all(clients.map((c) => c.request({ status: {} })));
        for (const r of rs) assertOk(r, "status");
        // Pipelined: two requests in one write, answered in order.
        const c = clients[0]!;
        c.sendRaw(Buffer.concat([Buffer.from(encodeStatus(500)), Buffer.from(encodeStatus(501))]));
        assert.equal((await c.next()).seq, 500);
        assert.equal((await c.next()).seq, 501);
      } finally {
        for (const c of clients) c.destroy();
      }
    }));

  it("answers INVALID naming the field, and counts errors", () =>
    withLogs(logs, async () => {
      const before = (await call(sock, { status: {} })).status!;
      const c = await LoaderClient.connect(sock);
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{}, "INVALID", "op"],
        [{ apply: { ops: [{ upsertBackend: { id: 1, addr: Buffer.from([1, 2, 3]), port: 80, proto: TCP } }] } }, "INVALID", "ops[0].upsert_backend.addr"],
        [{ apply: { ops: [{ upsertBackend: { id: 1, addr: ip("198.18.2.2"), port: 70000, proto: TCP } }] } }, "INVALID", "ops[0].upsert_backend.port"],
        [{ apply: { ops: [{ upsertBackend: { id: 1, addr: ip("198.18.2.2"), port: 80, proto: 1 } }] } }, "INVALID", "proto"],
        [{ apply: { ops: [{ deleteBackend: { id: 9 } }, { setMaglev: { group: 1, backendIds: [1, 2, 3, 4, 5, 6, 7, 8] } }] } }, "INVALID", "ops[1].set_maglev.backend_ids"],
        [{ apply: { ops: [{ setMaglev: { group: 1, backendIds: [] } }] } }, "INVALID", "set_maglev"],
        [{ apply: { ops: [{ upsertService: { key: { addr: ip("198.18.250.9"), port: 80, proto: TCP }, tableSize: 9 } }] } }, "INVALID", "table_size"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, snatPortMin: 2000, snatPortMax: 1000 } }] } }, "INVALID", "snat_port_min..snat_port_max"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, snatPortMin: 0, snatPortMax: 1000 } }] } }, "INVALID", "snat_port_min..snat_port_max"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, serviceCidrPrefixLen: 12 } }] } }, "INVALID", "service_cidr_prefix_len without"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, serviceCidrAddr: ip("10.96.0.0"), serviceCidrPrefixLen: 0 } }] } }, "INVALID", "not an IPv4 CIDR"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, serviceCidrAddr: ip("10.96.0.0"), serviceCidrPrefixLen: 33 } }] } }, "INVALID", "not an IPv4 CIDR"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, serviceCidrAddr: Buffer.alloc(16), serviceCidrPrefixLen: 12 } }] } }, "INVALID", "not an IPv4 CIDR"],
        [{ apply: { ops: [{ setConfig: { flowHashSeed: 1, nodeAddr: ip("198.18.0.11"), serviceCidrAddr: ip("198.18.0.0"), serviceCidrPrefixLen: 16 } }] } }, "INVALID", "holds node_addr"],
        [{ apply: { ops: [{ upsertService: { id: 1 } }] } }, "INVALID", "key"],
        [{ apply: { ops: [{ upsertRevnat: { id: 1, addr: Buffer.alloc(8), port: 80 } }] } }, "INVALID", "upsert_revnat.addr"],
        [{ apply: { ops: [{ flushConntrack: {} }] } }, "INVALID", "flush_conntrack"],
        [{ apply: { ops: [{ upsertSourceRange: { frontendId: 1, addr: ip("198.18.0.0"), prefixLen: 33 } }] } }, "INVALID", "ops[0].upsert_source_range.prefix_len"],
        [{ apply: { ops: [{ deleteSourceRange: { frontendId: 1, addr: Buffer.alloc(3), prefixLen: 8 } }] } }, "INVALID", "ops[0].delete_source_range.addr"],
        [{ apply: { ops: [{}] } }, "INVALID", "ops[0]"],
        [{ attach: { ifname: "", hook: "TC_INGRESS" } }, "INVALID", "ifname"],
        [{ attach: { ifname: "nosuchdev0", hook: "TC_INGRESS" } }, "NOT_FOUND", "nosuchdev0"],
        [{ attach: { ifname: "nosuchdev1", hook: "XDP" } }, "NOT_FOUND", "nosuchdev1"],
        [{ dump: { map: "sy_nope" } }, "NOT_FOUND", "sy_nope"],
        [{ dump: { map: "" } }, "INVALID", "dump.map"],
        [{ testRun: { program: "nope", data: Buffer.alloc(64) } }, "INVALID", "tc_external"],
        [{ testRun: { program: "tc_ingress", data: Buffer.alloc(4) } }, "INVALID", "data"],
      ];
      try {
        for (const [op, code, needle] of cases) {
          const r = await c.request(op);
          assert.equal(r.code, code, `${JSON.stringify(op)} -> ${r.code} ${r.error}`);
          assert.ok(r.error.includes(needle), `error "${r.error}" should mention ${needle}`);
        }
      } finally {
        c.destroy();
      }
      // Nothing of the rejected apply (op 0 was valid) was executed.
      const after = (await call(sock, { status: {} })).status!;
      assert.equal(after.errors, before.errors + cases.length);
      assert.equal(after.requests, before.requests + cases.length + 1);
    }));

  it("probes the kernel and honours pretend_missing", () =>
    withLogs(logs, async () => {
      const r = await call(sock, { probe: { pretendMissing: ["attach:tcx"] } });
      const f = new Map(r.probe!.features.map((x) => [x.name, x]));
      assert.ok(r.probe!.kernelRelease.length > 0);
      for (const name of [
        "prog_type:sched_cls",
        "prog_type:xdp",
        "map_type:hash",
        "map_type:lru_hash",
        "map_type:hash_of_maps",
        "map_type:array",
        "helper:sched_cls:bpf_l4_csum_replace",
        "helper:sched_cls:bpf_fib_lookup",
      ]) {
        assert.equal(f.get(name)?.available, true, `${name}: ${f.get(name)?.detail}`);
      }
      assert.equal(f.get("attach:tcx")?.available, false);
      assert.equal(f.get("attach:tcx")?.detail, "pretended missing");
      const real = await call(sock, { probe: {} });
      const tcx = real.probe!.features.find((x) => x.name === "attach:tcx")!;
      assert.equal(tcx.available, true, tcx.detail); // kernel >= 6.6 on the test machines
      assert.match(tcx.detail, /BPF_LINK_CREATE/);
    }));

  it("round-trips backends, revnat, maglev tables and services through apply/dump", () =>
    withLogs(logs, async () => {
      const vip = "198.18.250.1";
      const r = await call(sock, {
        apply: {
          ops: [
            { upsertBackend: { id: 1, addr: ip("198.18.2.2"), port: 8080, proto: TCP, state: 0, flags: 1, zone: 3 } },
            { upsertBackend: { id: 2, addr: ip("198.18.2.3"), port: 8081, proto: TCP, state: 1 } },
            { upsertRevnat: { id: 10, addr: ip(vip), port: 80 } },
            { setMaglev: { group: 5, backendIds: [1, 2, 1, 2, 1, 2, 0xfffffffe] } },
            { upsertService: { key: { addr: ip(vip), port: 80, proto: TCP }, id: 10, group: 5, count: 2, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
            { setConfig: { flowHashSeed: 0xdeadbeef, flags: 0, nodeAddr: ip("198.18.0.1"), snatPortMin: 1024, snatPortMax: 29999, serviceCidrAddr: ip("198.18.130.7"), serviceCidrPrefixLen: 17 } },
          ],
        },
      });
      assert.equal(r.apply!.applied, 6);

      const be = (await call(sock, { dump: { map: "sy_backends" } })).dump!;
      assert.equal(be.info.entries, 2);
      assert.equal(be.info.keySize, 4);
      assert.equal(be.info.valueSize, 16);
      assert.deepEqual(Buffer.from(find(be.entries, u32le(1))!.value), backendValue("198.18.2.2", 8080, TCP, 0, 1, 3));
      assert.deepEqual(Buffer.from(find(be.entries, u32le(2))!.value), backendValue("198.18.2.3", 8081, TCP, 1));

      const limited = (await call(sock, { dump: { map: "sy_backends", limit: 1 } })).dump!;
      assert.equal(limited.entries.length, 1);
      assert.equal(limited.info.entries, 2);

      const rn = (await call(sock, { dump: { map: "sy_revnat" } })).dump!;
      assert.deepEqual(Buffer.from(find(rn.entries, u32le(10))!.value), revnatValue(vip, 80));

      const mg = (await call(sock, { dump: { map: "sy_maglev" } })).dump!;
      assert.equal(mg.info.type, "hash_of_maps");
      assert.equal(mg.info.entries, 1);
      assert.deepEqual(Buffer.from(find(mg.entries, u32le(5))!.value), maglevValue([1, 2, 1, 2, 1, 2, 0xfffffffe]));

      const sv = (await call(sock, { dump: { map: "sy_services" } })).dump!;
      assert.deepEqual(Buffer.from(find(sv.entries, svcKey(vip, 80, TCP))!.value), svcValue(10, 5, 2, SY_SVC_F_CLUSTERIP, 0, 7));

      const cfg = (await call(sock, { dump: { map: "sy_config" } })).dump!;
      const cv = Buffer.from(find(cfg.entries, u32le(0))!.value);
      // snat_port_min, snat_port_max: u16 little endian at 12 and 14.
      assert.deepEqual(cv.subarray(0, 16), Buffer.concat([u32le(0xdeadbeef), u32le(0), ip("198.18.0.1"), u32le(1024 | (29999 << 16))]));
      assert.equal(cv.length, 32);
      assert.notEqual(cv.readBigUInt64LE(16), 0n, "host_netns_cookie: the loader's own namespace");
      // svc_net (host bits zeroed), svc_mask: network order at 24 and 28.
      assert.deepEqual(cv.subarray(24, 32), Buffer.concat([ip("198.18.128.0"), ip("255.255.128.0")]));

      // The kernel holds two slots per element: (M + 1) / 2 elements of
      // 8 bytes, the last one padded with 0 for an odd M.
      const inner = innerMaglev(`${lab.pinDir(instance)}/sy_maglev`, 5);
      assert.equal(inner.info.name, "sy_mg_7");
      assert.equal(inner.info.bytes_value, 8);
      assert.equal(inner.info.max_entries, 4);
      assert.equal(inner.info.flags, 0x1000, "BPF_F_INNER_MAP");
      assert.deepEqual(inner.elems, [[1, 2], [1, 2], [1, 2], [0xfffffffe, 0]]);

      // A new table of another size replaces the old one in one swap.
      await call(sock, { apply: { ops: [{ setMaglev: { group: 5, backendIds: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1] } }] } });
      const mg2 = (await call(sock, { dump: { map: "sy_maglev" } })).dump!;
      assert.deepEqual(Buffer.from(find(mg2.entries, u32le(5))!.value), maglevValue([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]));
      assert.equal(innerMaglev(`${lab.pinDir(instance)}/sy_maglev`, 5).info.max_entries, 6);

      // M = 2, the only even prime: one element, no padding.
      await call(sock, { apply: { ops: [{ setMaglev: { group: 9, backendIds: [2, 1] } }] } });
      const mg3 = (await call(sock, { dump: { map: "sy_maglev" } })).dump!;
      assert.deepEqual(Buffer.from(find(mg3.entries, u32le(9))!.value), maglevValue([2, 1]));
      assert.deepEqual(innerMaglev(`${lab.pinDir(instance)}/sy_maglev`, 9).elems, [[2, 1]]);
      await call(sock, { apply: { ops: [{ deleteMaglev: { group: 9 } }] } });
    }));

  it("runs the tc program on a packet (test_run) against the programmed maps", () =>
    withLogs(logs, async () => {
      // Two UDP services with ClientIP affinity:
      //   198.18.250.2:53 (group 6) -> backend 7 = 198.18.2.7:5353
      //   198.18.250.3:53 (group 8) -> backend 8 = 198.18.2.8:5353
      await call(sock, {
        apply: {
          ops: [
            { upsertBackend: { id: 7, addr: ip("198.18.2.7"), port: 5353, proto: UDP } },
            { upsertBackend: { id: 8, addr: ip("198.18.2.8"), port: 5353, proto: UDP } },
            { upsertRevnat: { id: 11, addr: ip("198.18.250.2"), port: 53 } },
            { upsertRevnat: { id: 12, addr: ip("198.18.250.3"), port: 53 } },
            { setMaglev: { group: 6, backendIds: [7, 7, 7, 7, 7] } },
            { setMaglev: { group: 8, backendIds: [8, 8, 8] } },
            { upsertService: { key: { addr: ip("198.18.250.2"), port: 53, proto: UDP }, id: 11, group: 6, count: 1, flags: SY_SVC_F_AFFINITY, affinityTimeout: 60, tableSize: 5 } },
            { upsertService: { key: { addr: ip("198.18.250.3"), port: 53, proto: UDP }, id: 12, group: 8, count: 1, flags: SY_SVC_F_AFFINITY, affinityTimeout: 60, tableSize: 3 } },
          ],
        },
      });
      const other = udpPacket("198.18.1.2", "198.18.9.9", 40000, 53, Buffer.from("hello"));
      const r0 = (await call(sock, { testRun: { program: "tc_ingress", data: other } })).testRun!;
      assert.equal(r0.retval, -1, "TCX_NEXT (-1) for non-service traffic: the next program of the chain runs");
      assert.deepEqual(Buffer.from(r0.data), other, "non-service packet untouched");

      const pkt = udpPacket("198.18.1.2", "198.18.250.2", 40000, 53, Buffer.from("hello"));
      const r1 = (await call(sock, { testRun: { program: "tc_ingress", data: pkt, repeat: 1, ifindex: 1 } })).testRun!;
      const out = Buffer.from(r1.data);
      assert.equal(r1.retval, 0);
      assert.equal(out.length, pkt.length);
      assert.deepEqual(out.subarray(30, 34), ip("198.18.2.7"), "destination rewritten to the backend");
      assert.equal(out.readUInt16BE(36), 5353, "destination port rewritten");
      const r2 = (await call(sock, { testRun: { program: "tc_ingress", data: udpPacket("198.18.1.2", "198.18.250.3", 40001, 53, Buffer.from("x")) } })).testRun!;
      assert.deepEqual(Buffer.from(r2.data).subarray(30, 34), ip("198.18.2.8"));

      const backendOf = (e: MapEntry) => Buffer.from(e.value).readUInt32LE(8);
      const ct = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(ct.entries.filter((e) => backendOf(e) === 7).length, 2, "forward + reply entries for backend 7");
      assert.equal(ct.entries.filter((e) => backendOf(e) === 8).length, 2, "forward + reply entries for backend 8");
      const aff = (await call(sock, { dump: { map: "sy_affinity" } })).dump!;
      assert.ok(find(aff.entries, Buffer.concat([ip("198.18.1.2"), u32le(6)])), "affinity entry for group 6");
      assert.ok(find(aff.entries, Buffer.concat([ip("198.18.1.2"), u32le(8)])), "affinity entry for group 8");

      // flush_conntrack by backend removes that backend's flows only.
      await call(sock, { apply: { ops: [{ flushConntrack: { backendId: 7, proto: UDP } }] } });
      const ct2 = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(ct2.entries.filter((e) => backendOf(e) === 7).length, 0);
      assert.equal(ct2.entries.filter((e) => backendOf(e) === 8).length, 2);
      // ... by frontend (rev_nat_id) too; proto TCP matches nothing here.
      await call(sock, { apply: { ops: [{ flushConntrack: { revNatId: 12, proto: TCP } }] } });
      assert.equal((await call(sock, { dump: { map: "sy_conntrack" } })).dump!.entries.filter((e) => backendOf(e) === 8).length, 2);
      await call(sock, { apply: { ops: [{ flushConntrack: { revNatId: 12 } }] } });
      assert.equal((await call(sock, { dump: { map: "sy_conntrack" } })).dump!.info.entries, 0);

      // delete_affinity removes one group's entries only.
      assert.equal((await call(sock, { apply: { ops: [{ deleteAffinity: { group: 6 } }] } })).apply!.applied, 1);
      const aff2 = (await call(sock, { dump: { map: "sy_affinity" } })).dump!;
      assert.equal(find(aff2.entries, Buffer.concat([ip("198.18.1.2"), u32le(6)])), undefined);
      assert.ok(find(aff2.entries, Buffer.concat([ip("198.18.1.2"), u32le(8)])));
      await call(sock, { apply: { ops: [{ deleteAffinity: { group: 8 } }] } });
      assert.equal((await call(sock, { dump: { map: "sy_affinity" } })).dump!.info.entries, 0);
    }));

  it("programs source ranges, and dumps per-CPU counters and stats summed over CPUs", () =>
    withLogs(logs, async () => {
      const rangeKey = (fe: number, addr: string, len: number) => Buffer.concat([u32le(32 + len), u32le(fe), ip(addr)]);
      await call(sock, {
        apply: {
          ops: [
            { upsertSourceRange: { frontendId: 21, addr: ip("198.18.50.77"), prefixLen: 24 } },
            { upsertSourceRange: { frontendId: 21, addr: ip("198.18.60.7"), prefixLen: 32 } },
            { upsertSourceRange: { frontendId: 22, addr: ip("198.18.1.1"), prefixLen: 0 } },
          ],
        },
      });
      const sr = (await call(sock, { dump: { map: "sy_source_ranges" } })).dump!;
      assert.equal(sr.info.type, "lpm_trie");
      assert.equal(sr.info.keySize, 12);
      assert.equal(sr.info.valueSize, 1);
      assert.equal(sr.info.entries, 3);
      assert.deepEqual(Buffer.from(find(sr.entries, rangeKey(21, "198.18.50.0", 24))!.value), Buffer.from([1]), "host bits zeroed");
      assert.ok(find(sr.entries, rangeKey(21, "198.18.60.7", 32)));
      assert.ok(find(sr.entries, rangeKey(22, "0.0.0.0", 0)));
      // A delete with other host bits finds the canonical key; absent keys are fine.
      const del = await call(sock, {
        apply: {
          ops: [
            { deleteSourceRange: { frontendId: 21, addr: ip("198.18.50.1"), prefixLen: 24 } },
            { deleteSourceRange: { frontendId: 21, addr: ip("198.18.50.1"), prefixLen: 24 } },
            { deleteSourceRange: { frontendId: 21, addr: ip("198.18.60.7"), prefixLen: 32 } },
            { deleteSourceRange: { frontendId: 22, addr: ip("0.0.0.0"), prefixLen: 0 } },
          ],
        },
      });
      assert.equal(del.apply!.applied, 4);
      assert.equal((await call(sock, { dump: { map: "sy_source_ranges" } })).dump!.info.entries, 0);

      // Per-CPU maps: bpftool writes the same value into every possible
      // CPU's slot; the dump returns the sum in the value's layout.
      const possible = readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
      const ncpus = possible.split(",").reduce((n, r) => {
        const [a, b] = r.split("-").map(Number);
        return n + (b === undefined ? 1 : b - a! + 1);
      }, 0);
      const u64le = (n: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(n);
        return b;
      };
      const SY_CNT_DROP_NO_SNAT_PORT = 15;
      bpftoolUpdate(`${lab.pinDir(instance)}/sy_counters`, u32le(SY_CNT_DROP_NO_SNAT_PORT), u64le(5n));
      const cnt = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
      assert.equal(cnt.info.type, "percpu_array");
      assert.equal(cnt.info.entries, 48, "SY_CNT_MAX");
      assert.equal(cnt.entries.length, 48);
      assert.ok(cnt.entries.every((e) => e.value.length === 8), "one u64 per counter, not one per CPU");
      assert.equal(Buffer.from(find(cnt.entries, u32le(SY_CNT_DROP_NO_SNAT_PORT))!.value).readBigUInt64LE(0), 5n * BigInt(ncpus));
      bpftoolUpdate(`${lab.pinDir(instance)}/sy_counters`, u32le(SY_CNT_DROP_NO_SNAT_PORT), u64le(0n));
      bpftoolUpdate(`${lab.pinDir(instance)}/sy_svc_stats`, Buffer.concat([u32le(77), u32le(1)]), Buffer.concat([u64le(3n), u64le(1000n)]));
      const st0 = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      assert.deepEqual(Buffer.from(find(st0.entries, Buffer.concat([u32le(77), u32le(1)]))!.value), Buffer.concat([u64le(3n * BigInt(ncpus)), u64le(1000n * BigInt(ncpus))]));

      // A NodePort through sy_tc_external: DNAT + SNAT to the node address,
      // counted in sy_counters and in sy_svc_stats {frontend, hook 0}.
      const NODE = "198.18.0.1";
      await call(sock, {
        apply: {
          ops: [
            { setConfig: { flowHashSeed: 1, nodeAddr: ip(NODE) } },
            { upsertBackend: { id: 31, addr: ip("198.18.2.31"), port: 8080, proto: UDP } },
            { upsertRevnat: { id: 32, addr: ip(NODE), port: 30053 } },
            { setMaglev: { group: 33, backendIds: [31, 31, 31] } },
            { upsertService: { key: { addr: ip(NODE), port: 30053, proto: UDP }, id: 32, group: 33, count: 1, flags: 1 << 1, tableSize: 3 } },
            { upsertRevnat: { id: 77, addr: ip("198.18.250.77"), port: 80 } },
          ],
        },
      });
      const pkt = udpPacket("198.18.1.2", NODE, 40000, 30053, Buffer.from("hello"));
      const r = (await call(sock, { testRun: { program: "tc_external", data: pkt } })).testRun!;
      assert.equal(r.retval, 0);
      assert.deepEqual(Buffer.from(r.data), udpPacket(NODE, "198.18.2.31", 40000, 8080, Buffer.from("hello")), "DNAT + SNAT, checksums recomputed");
      const cnt2 = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
      const c = (i: number) => Buffer.from(find(cnt2.entries, u32le(i))!.value).readBigUInt64LE(0);
      assert.ok(c(0) >= 1n, "SY_CNT_TC_DNAT");
      assert.ok(c(11) >= 1n, "SY_CNT_SNAT");
      const st = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      assert.deepEqual(Buffer.from(find(st.entries, Buffer.concat([u32le(32), u32le(0)]))!.value), Buffer.concat([u64le(1n), u64le(BigInt(pkt.length))]));
      const ct = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      const fwd = find(ct.entries, ctKey("198.18.1.2", NODE, 40000, 30053, UDP))!;
      assert.equal(Buffer.from(fwd.value).readUInt16LE(18), 4, "SY_CT_F_SNAT");
      assert.deepEqual(Buffer.from(fwd.value).subarray(20, 26), Buffer.concat([ip(NODE), be16(40000)]));

      // delete_revnat also removes the frontend's statistics.
      await call(sock, {
        apply: {
          ops: [
            { deleteService: { key: { addr: ip(NODE), port: 30053, proto: UDP } } },
            { deleteMaglev: { group: 33 } },
            { deleteRevnat: { id: 32 } },
            { deleteRevnat: { id: 77 } },
            { deleteBackend: { id: 31 } },
            { flushConntrack: { revNatId: 32 } },
          ],
        },
      });
      const st2 = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      assert.deepEqual(
        st2.entries.filter((e) => [32, 77].includes(Buffer.from(e.key).readUInt32LE(0))),
        [],
        "no statistics left for the deleted frontends",
      );
    }));

  it("deletes idempotently", () =>
    withLogs(logs, async () => {
      const vip = "198.18.250.1";
      const dels = {
        apply: {
          ops: [
            { deleteService: { key: { addr: ip(vip), port: 80, proto: TCP } } },
            { deleteService: { key: { addr: ip("198.18.250.2"), port: 53, proto: UDP } } },
            { deleteMaglev: { group: 5 } },
            { deleteMaglev: { group: 6 } },
            { deleteRevnat: { id: 10 } },
            { deleteService: { key: { addr: ip("198.18.250.3"), port: 53, proto: UDP } } },
            { deleteMaglev: { group: 8 } },
            { deleteRevnat: { id: 11 } },
            { deleteRevnat: { id: 12 } },
            { deleteBackend: { id: 1 } },
            { deleteBackend: { id: 2 } },
            { deleteBackend: { id: 7 } },
            { deleteBackend: { id: 8 } },
          ],
        },
      };
      assert.equal((await call(sock, dels)).apply!.applied, dels.apply.ops.length);
      assert.equal((await call(sock, dels)).apply!.applied, dels.apply.ops.length, "second delete of absent keys is fine");
      // sy_svc_stats: the test_run above counted frontends 11 and 12; their
      // delete_revnat removed those entries.
      for (const m of ["sy_services", "sy_maglev", "sy_revnat", "sy_backends", "sy_svc_stats"]) {
        const d = (await call(sock, { dump: { map: m } })).dump!;
        assert.equal(d.info.entries, 0, `${m} empty`);
        assert.equal(d.entries.length, 0);
      }
    }));

  it("the gc_conntrack request deletes expired and orphaned entries and keeps fresh ones; the old map op still works", () =>
    withLogs(logs, async () => {
      const c0 = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(c0.info.entries, 0, "conntrack empty before the test");
      await call(sock, {
        apply: {
          ops: [
            { upsertBackend: { id: 41, addr: ip("198.18.2.41"), port: 8080, proto: TCP } },
            { upsertBackend: { id: 42, addr: ip("198.18.2.42"), port: 8080, proto: TCP } },
            { upsertRevnat: { id: 51, addr: ip("198.18.250.51"), port: 80 } },
          ],
        },
      });
      const pin = `${lab.pinDir(instance)}/sy_conntrack`;
      const now = monoNs();
      assert.ok(now > 70n * SEC, "CLOCK_MONOTONIC is past 70 s (uptime)");
      const ago = (s: number) => now - BigInt(Math.round(s * 1000)) * 1_000_000n;
      const est = SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED;
      const cases: Array<[string, number, bigint, number, number, number, boolean]> = [
        // name, proto, last_seen, backend, revnat, flags, kept
        ["tcp established, fresh", TCP, now, 41, 51, est, true],
        ["tcp without reply, idle 61 s", TCP, ago(61), 41, 51, 0, false],
        ["tcp without reply, idle 40 s", TCP, ago(40), 41, 51, 0, true],
        ["tcp established, idle 61 s", TCP, ago(61), 41, 51, est, true],
        ["tcp closing, idle 11 s", TCP, ago(11), 41, 51, est | SY_CT_F_CLOSING, false],
        ["tcp closing, idle 5 s", TCP, ago(5), 41, 51, est | SY_CT_F_CLOSING, true],
        ["udp, idle 61 s", UDP, ago(61), 41, 51, est, false],
        ["udp, idle 30 s", UDP, ago(30), 41, 51, est, true],
        ["backend 99 does not exist", TCP, now, 99, 51, est, false],
        ["revnat 98 does not exist", UDP, now, 41, 98, 0, false],
        ["last_seen in the future", TCP, now + 5n * SEC, 41, 51, 0, true],
        ["backend 42, fresh", TCP, now, 42, 51, est, true],
        ["tcp half-open (reply seen, never ACKed), idle 61 s", TCP, ago(61), 41, 51, SY_CT_F_SEEN_REPLY, false],
      ];
      if (now > 21601n * SEC) cases.push(["tcp established, idle 6 h + 1 s", TCP, ago(21601), 41, 51, est, false]);
      const keyOf = (i: number) => ctKey("198.18.1.2", "198.18.250.51", 30000 + i, 80, cases[i]![1]);
      cases.forEach(([, proto, last, be, rn, flags], i) => bpftoolUpdate(pin, keyOf(i), ctValue(last, be, rn, flags)));

      const r = await call(sock, { gcConntrack: {} });
      const gone = cases.filter((c) => !c[6]).length;
      const orphans = cases.filter((c) => c[3] === 99 || c[4] === 98).length;
      assert.equal(r.gcConntrack!.deleted, gone, "deleted count");
      assert.equal(r.gcConntrack!.scanned, cases.length, "scanned count");
      assert.equal(r.gcConntrack!.orphanedBackend + r.gcConntrack!.orphanedFrontend, orphans, "orphans");
      assert.equal(r.gcConntrack!.expired, gone - orphans, "expired");
      const after = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      cases.forEach(([name, , , , , , kept], i) => {
        assert.equal(!!find(after.entries, keyOf(i)), kept, `${name}: ${kept ? "kept" : "deleted"}`);
      });
      assert.equal(after.info.entries, cases.length - gone);

      // Kept entries are untouched.
      const fresh = find(after.entries, keyOf(0))!;
      assert.deepEqual(Buffer.from(fresh.value), ctValue(now, 41, 51, est));

      // A collection after deleting a backend clears its flows; a second
      // run finds nothing more.
      await call(sock, { apply: { ops: [{ deleteBackend: { id: 42 } }] } });
      const r2 = await call(sock, { gcConntrack: {} });
      assert.equal(r2.gcConntrack!.deleted, 1);
      assert.equal(r2.gcConntrack!.orphanedBackend, 1);
      const after2 = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(find(after2.entries, keyOf(11)), undefined, "backend 42's flow deleted");
      assert.equal((await call(sock, { gcConntrack: {} })).gcConntrack!.deleted, 0);

      // flush_conntrack counts into deleted too.
      const r3 = await call(sock, { apply: { ops: [{ flushConntrack: { revNatId: 51 } }] } });
      assert.equal(r3.apply!.deleted, after2.info.entries);
      // The map op of agents older than the GcConntrack request (a loader
      // upgraded under a running agent) still collects, after the ops
      // before it, and counts into ApplyResult.deleted.
      bpftoolUpdate(pin, keyOf(0), ctValue(now, 41, 51, est));
      const r4 = await call(sock, { apply: { ops: [{ deleteBackend: { id: 41 } }, { deleteRevnat: { id: 51 } }, { gcConntrack: {} }] } });
      assert.equal(r4.apply!.applied, 3);
      assert.equal(r4.apply!.deleted, 1, "the legacy op removed the orphan");
      assert.equal((await call(sock, { dump: { map: "sy_conntrack" } })).dump!.info.entries, 0);
    }));

  it("a full sy_conntrack is collected in slices: a map write sent during the walk is answered before the walk ends", () =>
    withLogs(logs, async () => {
      assert.equal((await call(sock, { dump: { map: "sy_conntrack", limit: 1 } })).dump!.info.entries, 0, "conntrack empty before the test");
      // A real full map: as many entries as sy_conntrack has room for
      // (bpftool batch, one process), a quarter of them orphans of a
      // backend that is not there.
      await call(sock, {
        apply: {
          ops: [
            { upsertBackend: { id: 61, addr: ip("198.18.2.61"), port: 8080, proto: TCP } },
            { upsertRevnat: { id: 71, addr: ip("198.18.250.71"), port: 80 } },
          ],
        },
      });
      const pin = `${lab.pinDir(instance)}/sy_conntrack`;
      const info = JSON.parse(run("bpftool", ["-j", "map", "show", "pinned", pin]).stdout) as BpftoolMapInfo;
      const room = info.max_entries;
      assert.ok(room >= 65536, `sy_conntrack has room for ${room} entries`);
      const est = SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED;
      const fresh = hexArgs(ctValue(monoNs(), 61, 71, est)).join(" ");
      const orphan = hexArgs(ctValue(monoNs(), 99, 71, est)).join(" ");
      const lines: string[] = [];
      for (let i = 0; i < room; i++) {
        const key = ctKey(`198.18.${8 + (i >> 16)}.${(i >> 8) & 0xff}`, "198.18.250.71", 1024 + (i & 0xff), 80, TCP);
        lines.push(`map update pinned ${pin} key hex ${hexArgs(key).join(" ")} value hex ${i % 4 === 0 ? orphan : fresh}`);
      }
      const file = path.join(lab.tmp, "ct-fill.batch");
      writeFileSync(file, lines.join("\n") + "\n");
      run("bpftool", ["batch", "file", file], { timeoutMs: 120_000 });

      const agent = new AgentLoaderClient(sock, 60_000);
      try {
        // What the map holds (an LRU map may evict a little before it is
        // at max_entries): the walk's counts are checked against it.
        const held = (await agent.dump("sy_conntrack")).entries;
        const orphans = held.filter((e) => Buffer.from(e.value).readUInt32LE(8) === 99).length;
        assert.ok(held.length >= room * 0.95, `sy_conntrack is full: ${held.length} of ${room}`);

        // The agent's client: the walk in slices of 1 ms of the loader's
        // time, and a map write sent on the same connection right after
        // the walk's first slice.
        const order: string[] = [];
        const walk = agent.gcConntrack(1000).then((r) => {
          order.push("walk");
          return r;
        });
        const write = agent.apply([{ upsertBackend: { id: 62, addr: ip("198.18.2.62"), port: 8080, proto: TCP } }]).then(() => order.push("write"));
        const [r] = await Promise.all([walk, write]);
        assert.deepEqual(order, ["write", "walk"], "the write was answered while the walk went on");
        assert.ok(r.slices > 1, `a walk of ${held.length} entries in ${r.slices} slice(s)`);
        assert.equal(r.scanned, held.length, "every entry walked once");
        assert.equal(r.orphanedBackend, orphans, "the orphans");
        assert.equal(r.deleted, orphans);
        const left = (await call(sock, { dump: { map: "sy_conntrack", limit: 1 } })).dump!;
        assert.equal(left.info.entries, held.length - orphans, "the orphans are gone, every other entry stays");

        // A walk from a cursor this loader did not give is refused.
        await assert.rejects(call(sock, { gcConntrack: { cursor: 7 * 2 ** 32, budgetUs: 1000 } }), /INVALID: .*not one this loader gave/);
        // Empty again for the tests after this one, in one request (no budget).
        await agent.apply([{ deleteBackend: { id: 61 } }, { deleteBackend: { id: 62 } }, { deleteRevnat: { id: 71 } }]);
        const all = await call(sock, { gcConntrack: {} });
        assert.equal(all.gcConntrack!.deleted, held.length - orphans);
        assert.equal(all.gcConntrack!.nextCursor, 0, "a walk without a budget is one request");
      } finally {
        agent.close();
      }
    }));

  it("refuses a second loader for the same instance", () =>
    withLogs(logs, async () => {
      await assert.rejects(lab.startLoader(ns, instance, [], `${sock}.2`), /another loader is running/);
      assertOk(await call(sock, { status: {} }), "first loader unaffected");
    }));

  it("replaces a pinned sy_maglev whose inner tables have the old one-u32-per-slot layout", () =>
    withLogs(logs, async () => {
      const inst = lab.instance("oldmg");
      const dir = lab.pinDir(inst);
      run("mkdir", ["-p", dir]);
      // What the previous datapath pinned: inner template ARRAY of u32.
      run("bpftool", ["map", "create", `${dir}/tmpl`, "type", "array", "key", "4", "value", "4", "entries", "251", "name", "old_tmpl", "flags", "0x1000"]);
      run("bpftool", ["map", "create", `${dir}/sy_maglev`, "type", "hash_of_maps", "key", "4", "value", "4", "entries", "65536", "name", "sy_maglev", "inner_map", "pinned", `${dir}/tmpl`]);
      run("rm", [`${dir}/tmpl`]);
      const oldId = (JSON.parse(run("bpftool", ["-j", "map", "show", "pinned", `${dir}/sy_maglev`]).stdout) as { id: number }).id;
      const l = await lab.startLoader(ns, inst, [], `${sock}.old`);
      extra.push(l);
      const c = await LoaderClient.connect(l.socketPath);
      try {
        const st = await c.request({ status: {} });
        const mg = st.status!.maps.find((m) => m.name === "sy_maglev")!;
        assert.notEqual(mg.id, oldId, "a new sy_maglev");
        assertOk(await c.request({ apply: { ops: [{ setMaglev: { group: 1, backendIds: [3, 4, 5] } }] } }), "set_maglev");
        const d = await c.request({ dump: { map: "sy_maglev" } });
        assert.deepEqual(Buffer.from(find(d.dump!.entries, u32le(1))!.value), maglevValue([3, 4, 5]));
        assert.ok(l.logs.some((x) => /sy_maglev: loading with the pinned map failed/.test(x)), "logged");
        assertOk(await c.request({ cleanup: {} }), "cleanup");
      } finally {
        c.destroy();
      }
      assert.equal(await l.waitExit(), 0);
    }));

  it("stops apply at the first kernel failure and reports the applied count", () =>
    withLogs(logs, async () => {
      const small = await lab.startLoader(ns, lab.instance("small"), ["--max-services", "2"]);
      extra.push(small);
      const ops = [1, 2, 3, 4].map((g) => ({ setMaglev: { group: g, backendIds: [1, 1, 1] } }));
      const c = await LoaderClient.connect(small.socketPath);
      try {
        const r = await c.request({ apply: { ops } });
        assert.equal(r.code, "KERNEL");
        assert.equal(r.apply?.applied, 2);
        assert.match(r.error, /ops\[2\]\.set_maglev/);
        assert.match(r.error, /E2BIG/);
        const st = await c.request({ status: {} });
        assert.equal(st.status!.maps.find((m) => m.name === "sy_maglev")!.maxEntries, 2);
        assert.equal(st.status!.maps.find((m) => m.name === "sy_maglev")!.entries, 2);
        assertOk(await c.request({ cleanup: {} }), "cleanup");
      } finally {
        c.destroy();
      }
      assert.equal(await small.waitExit(), 0);
    }));

  it("--map-max-entries sizes one map; failed_op names the refused op (kernel failure or invalid op)", () =>
    withLogs(logs, async () => {
      const small = await lab.startLoader(ns, lab.instance("mme"), ["--map-max-entries", "sy_services=2,sy_backends=5"]);
      extra.push(small);
      const svc = (port: number) => ({ upsertService: { key: { addr: Buffer.from([198, 18, 128, 1]), port, proto: 6, scope: 0 }, id: port, group: port, count: 0, flags: 1, affinityTimeout: 0, tableSize: 0 } });
      const c = await LoaderClient.connect(small.socketPath);
      try {
        const st = await c.request({ status: {} });
        const max = (m: string) => st.status!.maps.find((x) => x.name === m)!.maxEntries;
        assert.deepEqual([max("sy_services"), max("sy_backends"), max("sy_revnat")], [2, 5, 131072]);
        const full = await c.request({ apply: { ops: [svc(1), svc(2), svc(3), svc(4)] } });
        assert.equal(full.code, "KERNEL");
        assert.match(full.error, /ops\[2\]\.upsert_service: update sy_services: E2BIG/);
        assert.equal(full.apply?.applied, 2);
        assert.equal((full.apply as { failedOp?: number } | undefined)?.failedOp, 2);
        const bad = await c.request({ apply: { ops: [{ deleteService: { key: { addr: Buffer.from([198, 18, 128, 1]), port: 1, proto: 6, scope: 0 } } }, svc(70000)] } });
        assert.equal(bad.code, "INVALID");
        assert.equal(bad.apply?.applied ?? 0, 0);
        assert.equal((bad.apply as { failedOp?: number } | undefined)?.failedOp, 1);
        assertOk(await c.request({ cleanup: {} }), "cleanup");
      } finally {
        c.destroy();
      }
      assert.equal(await small.waitExit(), 0);
    }));

  it("tracks a device recreated under the same name, and cleanup ignores vanished devices", () =>
    withLogs(logs, async () => {
      lab.ip(ns, "link", "add", "name", "t0", "type", "veth", "peer", "name", "t1");
      lab.ip(ns, "link", "set", "dev", "t0", "up");
      const a1 = (await call(sock, { attach: { ifname: "t0", hook: "TC_INGRESS" } })).attach!;
      lab.ip(ns, "link", "del", "dev", "t0");
      lab.ip(ns, "link", "add", "name", "t0", "type", "veth", "peer", "name", "t1");
      const a2 = (await call(sock, { attach: { ifname: "t0", hook: "TC_INGRESS" } })).attach!;
      assert.notEqual(a2.ifindex, a1.ifindex);
      const st = (await call(sock, { status: {} })).status!;
      assert.deepEqual(st.attachments.map((a) => [a.ifname, a.ifindex]), [["t0", a2.ifindex]]);
      lab.ip(ns, "link", "del", "dev", "t0");
      const c = await LoaderClient.connect(sock);
      try {
        assertOk(await c.request({ cleanup: {} }), "cleanup with the device gone");
      } finally {
        c.destroy();
      }
      assert.equal(await loader!.waitExit(), 0);
      assert.ok(!existsSync(lab.pinDir(instance)), "pins removed");
      assert.ok(!existsSync(sock), "socket removed");
    }));
});

function encodeStatus(seq: number): Uint8Array {
  return encodeRequest({ seq, status: {} });
}

// ---- 3: real traffic across restarts ----------------------------------------

const VIP = "198.18.250.1";
const CLIENT = "198.18.1.2";
const SERVER = "198.18.2.2";

const SERVER_JS = `
const net = require("net"), dgram = require("dgram");
let up = 0;
const ready = () => { if (++up === 2) console.log("ready"); };
net.createServer((s) => {
  s.on("error", () => {});
  s.once("data", () => s.end("tcp " + s.remoteAddress));
}).listen(8080, "${SERVER}", ready);
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send("udp " + r.address, r.port, r.address));
u.bind(8080, "${SERVER}", ready);
`;

const TCP_CLIENT_JS = `
const s = require("net").connect({ host: "${VIP}", port: 80 });
let d = "";
s.setTimeout(2000, () => { console.error("timeout"); process.exit(2); });
s.on("connect", () => s.write("ping"));
s.on("data", (c) => (d += c));
s.on("end", () => { console.log(d); process.exit(0); });
s.on("error", (e) => { console.error(e.message); process.exit(1); });
`;

const UDP_CLIENT_JS = `
const u = require("dgram").createSocket("udp4");
u.on("message", (m, r) => { console.log(m + " from " + r.address + ":" + r.port); process.exit(0); });
u.send("ping", 80, "${VIP}");
setTimeout(() => { console.error("timeout"); process.exit(2); }, 1500);
`;

describe("switchyard-loader datapath across restarts", { timeout: 120000 }, () => {
  let lab: Lab;
  let cli = "";
  let rtr = "";
  let srv = "";
  let instance = "";
  let loader: LoaderProcess | undefined;
  const old: LoaderProcess[] = [];
  const logs = () => [...old, loader];

  async function tcpOnce(): Promise<string> {
    const r = await lab.execAsync(cli, "node", ["-e", TCP_CLIENT_JS], 5000);
    if (r.code !== 0) throw new Error(`tcp client: exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }
  async function udpOnce(): Promise<string> {
    const r = await lab.execAsync(cli, "node", ["-e", UDP_CLIENT_JS], 5000);
    if (r.code !== 0) throw new Error(`udp client: exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }
  /** TCP and UDP to the VIP reach the server, which sees the real client. */
  async function assertTraffic(what: string): Promise<void> {
    const tcp = await waitFor(`${what}: TCP via the VIP`, tcpOnce, 8000, 200);
    assert.equal(tcp, `tcp ${CLIENT}`, `${what}: TCP answer`);
    const udp = await waitFor(`${what}: UDP via the VIP`, udpOnce, 8000, 200);
    assert.equal(udp, `udp ${CLIENT} from ${VIP}:80`, `${what}: UDP answer`);
  }

  before(async () => {
    lab = new Lab();
    cli = lab.netns("c");
    rtr = lab.netns("r");
    srv = lab.netns("s");
    lab.veth(rtr, "r-cli", cli, "c0");
    lab.veth(rtr, "r-srv", srv, "s0");
    lab.ip(cli, "addr", "add", `${CLIENT}/24`, "dev", "c0");
    lab.ip(cli, "route", "add", "default", "via", "198.18.1.1");
    lab.ip(rtr, "addr", "add", "198.18.1.1/24", "dev", "r-cli");
    lab.ip(rtr, "addr", "add", "198.18.2.1/24", "dev", "r-srv");
    lab.exec(rtr, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    lab.ip(srv, "addr", "add", `${SERVER}/24`, "dev", "s0");
    lab.ip(srv, "route", "add", "default", "via", "198.18.2.1");

    const server = lab.spawnIn(srv, "node", ["-e", SERVER_JS]);
    await waitFor(
      "the test servers",
      () =>
        new Promise<true | undefined>((resolve) => {
          let out = "";
          const onData = (d: Buffer) => {
            out += d.toString();
            if (out.includes("ready")) resolve(true);
          };
          server.stdout?.on("data", onData);
          setTimeout(() => {
            server.stdout?.off("data", onData);
            resolve(undefined);
          }, 500);
        }),
      8000,
    );
    // Sanity: the plain routed path works before any BPF is involved.
    const direct = lab.exec(cli, "node", ["-e", TCP_CLIENT_JS.replace(`host: "${VIP}", port: 80`, `host: "${SERVER}", port: 8080`)], { timeoutMs: 5000 });
    assert.equal(direct.stdout.trim(), `tcp ${CLIENT}`);

    instance = lab.instance("dp");
  });

  after(async () => {
    await lab?.cleanup();
  });

  const program = {
    apply: {
      ops: [
        { setConfig: { flowHashSeed: 12345, nodeAddr: ip("198.18.1.1") } },
        { upsertBackend: { id: 1, addr: ip(SERVER), port: 8080, proto: TCP } },
        { upsertBackend: { id: 2, addr: ip(SERVER), port: 8080, proto: UDP } },
        { upsertRevnat: { id: 100, addr: ip(VIP), port: 80 } },
        { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
        { setMaglev: { group: 2, backendIds: [2, 2, 2, 2, 2, 2, 2] } },
        { upsertService: { key: { addr: ip(VIP), port: 80, proto: TCP }, id: 100, group: 1, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
        { upsertService: { key: { addr: ip(VIP), port: 80, proto: UDP }, id: 100, group: 2, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
      ],
    },
  };

  it("attaches to both router veths and load-balances real traffic", () =>
    withLogs(logs, async () => {
      loader = await lab.startLoader(rtr, instance);
      const sock = loader.socketPath;
      for (const dev of ["r-cli", "r-srv"]) {
        const a = (await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS" } })).attach!;
        assert.equal(a.mode, "tcx");
        assert.ok(a.progId > 0);
        assert.ok(existsSync(`${lab.pinDir(instance)}/links/tc_ingress_${dev}`));
      }
      // Idempotent.
      assert.equal((await call(sock, { attach: { ifname: "r-cli", hook: "TC_INGRESS" } })).attach!.mode, "tcx");
      assert.equal((await call(sock, program)).apply!.applied, program.apply.ops.length);
      await assertTraffic("first loader");
      const ct = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.ok(ct.info.entries > 0, "flows are tracked");
    }));

  it("keeps forwarding after SIGTERM, and a restarted loader finds its state", () =>
    withLogs(logs, async () => {
      const first = loader!;
      const st0 = (await call(first.socketPath, { status: {} })).status!;
      const oldProg = st0.attachments[0]!.progId;
      assert.equal(await first.stop(), 0, "exit code 0 on SIGTERM");
      old.push(first);
      loader = undefined;
      assert.ok(!existsSync(first.socketPath), "socket removed");
      assert.ok(existsSync(`${lab.pinDir(instance)}/sy_services`), "pins kept");
      await assertTraffic("no loader running");

      // A different size on restart keeps the pinned map (and its state);
      // a different --tc-mode keeps the existing tcx attachments (below).
      loader = await lab.startLoader(rtr, instance, ["--ct-max", "4096", "--tc-mode", "clsact"]);
      const sock = loader.socketPath;
      const st = (await call(sock, { status: {} })).status!;
      assert.equal(st.instance, instance);
      const ct0 = st0.maps.find((m) => m.name === "sy_conntrack")!;
      const ct1 = st.maps.find((m) => m.name === "sy_conntrack")!;
      assert.equal(ct1.maxEntries, ct0.maxEntries);
      assert.ok(ct1.entries > 0, "conntrack entries survive the restart");
      assert.equal(st.pinDir, lab.pinDir(instance));
      const atts = st.attachments.map((a) => `${a.ifname}/${a.hook}/${a.mode}`).sort();
      assert.deepEqual(atts, ["r-cli/TC_INGRESS/tcx", "r-srv/TC_INGRESS/tcx"]);
      const entries = new Map(st.maps.map((m) => [m.name, m.entries]));
      assert.equal(entries.get("sy_services"), 2);
      assert.equal(entries.get("sy_backends"), 2);
      assert.equal(entries.get("sy_revnat"), 1);
      assert.equal(entries.get("sy_maglev"), 2);
      assert.equal(entries.get("sy_attach"), 2);
      for (const m of st0.maps) {
        assert.equal(st.maps.find((x) => x.name === m.name)!.id, m.id, `${m.name}: same map after restart`);
      }
      const mg = (await call(sock, { dump: { map: "sy_maglev" } })).dump!;
      assert.deepEqual(Buffer.from(find(mg.entries, u32le(1))!.value), maglevValue([1, 1, 1, 1, 1, 1, 1]));
      await assertTraffic("restarted loader");

      // Upgrade path: re-attaching swaps the links to the new program.
      for (const dev of ["r-cli", "r-srv"]) {
        const a = (await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS" } })).attach!;
        assert.equal(a.mode, "tcx", "an existing tcx attachment keeps its mode");
        assert.notEqual(a.progId, oldProg, "link updated to the restarted loader's program");
        const f = lab.exec(rtr, "tc", ["filter", "show", "dev", dev, "ingress"]).stdout;
        assert.doesNotMatch(f, /bpf/, `${dev}: no clsact filter added next to the tcx link`);
      }
      const st2 = (await call(sock, { status: {} })).status!;
      assert.ok(st2.attachments.every((a) => a.progId !== oldProg));
      await assertTraffic("after link update");
    }));

  it("detaches idempotently and re-attaches", () =>
    withLogs(logs, async () => {
      const sock = loader!.socketPath;
      await call(sock, { detach: { ifname: "r-cli", hook: "TC_INGRESS" } });
      await call(sock, { detach: { ifname: "r-cli", hook: "TC_INGRESS" } });
      assert.ok(!existsSync(`${lab.pinDir(instance)}/links/tc_ingress_r-cli`));
      const st = (await call(sock, { status: {} })).status!;
      assert.deepEqual(st.attachments.map((a) => a.ifname), ["r-srv"]);
      // Without DNAT the VIP is unroutable at the router.
      const r = await lab.execAsync(cli, "node", ["-e", TCP_CLIENT_JS], 5000);
      assert.notEqual(r.code, 0, "no service without the program");
      // This loader runs with --tc-mode clsact: a fresh attachment uses it,
      // so r-cli (clsact) and r-srv (tcx) now mix modes.
      const a = (await call(sock, { attach: { ifname: "r-cli", hook: "TC_INGRESS" } })).attach!;
      assert.equal(a.mode, "clsact");
      await assertTraffic("re-attached");
    }));

  it("cleanup detaches everything, removes the pins and exits", () =>
    withLogs(logs, async () => {
      const l = loader!;
      const st = (await call(l.socketPath, { status: {} })).status!;
      const progIds = [...new Set(st.attachments.map((a) => a.progId))];
      const r = await call(l.socketPath, { cleanup: {} });
      assertOk(r, "cleanup");
      assert.equal(await l.waitExit(5000), 0);
      old.push(l);
      loader = undefined;
      assert.ok(!existsSync(lab.pinDir(instance)), "pin directory removed");
      // No program left on the devices: the programs themselves are freed.
      for (const id of progIds) {
        await waitFor(`prog ${id} freed`, () => (run("bpftool", ["prog", "show", "id", String(id)], { allowFail: true }).code !== 0 ? true : undefined), 5000, 100);
      }
      const t = await lab.execAsync(cli, "node", ["-e", TCP_CLIENT_JS], 5000);
      assert.notEqual(t.code, 0, "VIP no longer served");
      for (const dev of ["r-cli", "r-srv"]) {
        assert.doesNotMatch(lab.exec(rtr, "tc", ["filter", "show", "dev", dev, "ingress"]).stdout, /bpf/, `${dev}: no clsact filter left`);
      }
    }));

  it("falls back to clsact (forced) with the same guarantees", () =>
    withLogs(logs, async () => {
      const inst2 = lab.instance("cls");
      loader = await lab.startLoader(rtr, inst2, ["--tc-mode", "clsact"]);
      const sock = loader.socketPath;
      for (const dev of ["r-cli", "r-srv"]) {
        const a = (await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS" } })).attach!;
        assert.equal(a.mode, "clsact");
        const f = lab.exec(rtr, "tc", ["filter", "show", "dev", dev, "ingress"]).stdout;
        assert.match(f, /bpf/, `${dev}: a bpf filter in clsact ingress`);
      }
      await call(sock, program);
      await assertTraffic("clsact");
      // A restart keeps the clsact filters and their mode.
      assert.equal(await loader.stop(), 0);
      old.push(loader);
      loader = undefined;
      await assertTraffic("clsact, no loader");
      loader = await lab.startLoader(rtr, inst2);
      const st = (await call(loader.socketPath, { status: {} })).status!;
      assert.deepEqual(st.attachments.map((a) => a.mode), ["clsact", "clsact"]);
      assert.equal((await call(loader.socketPath, { attach: { ifname: "r-cli", hook: "TC_INGRESS" } })).attach!.mode, "clsact");
      await assertTraffic("clsact, restarted");
      await call(loader.socketPath, { cleanup: {} });
      assert.equal(await loader.waitExit(5000), 0);
      old.push(loader);
      loader = undefined;
      for (const dev of ["r-cli", "r-srv"]) {
        const f = lab.exec(rtr, "tc", ["filter", "show", "dev", dev, "ingress"]).stdout;
        assert.doesNotMatch(f, /bpf/, `${dev}: filter removed`);
      }
      assert.ok(!existsSync(lab.pinDir(inst2)));
      await sleep(10);
    }));
  // Another vendor's filters on the same clsact qdisc: one at tc's and
  // libbpf's default place (handle 1, priority 1), one after ours. Ours
  // never replaces or deletes them, and the one after ours sees every
  // packet Switchyard leaves untouched (TC_ACT_UNSPEC, not TC_ACT_OK).
  it("clsact: leaves other filters alone (handle 1 prio 1 and after ours) and passes untouched packets on", () =>
    withLogs(logs, async () => {
      const obj = path.join(repoRoot(), "test", "tools", "build", "tc_count.bpf.o");
      const counter = path.join(repoRoot(), "test", "tools", "build", "sy-tc-count");
      const inst3 = lab.instance("cl2");
      const filters = (dev: string) => lab.exec(rtr, "tc", ["filter", "show", "dev", dev, "ingress"]).stdout;
      /** "pref P ... id N name X" of every bpf filter. */
      const bpfFilters = (dev: string) =>
        filters(dev).split("\n").filter((l) => / bpf /.test(l) && / id \d+/.test(l))
          .map((l) => `pref ${/pref (\d+)/.exec(l)![1]} handle ${/handle (0x[0-9a-f]+)/.exec(l)![1]} ${/ name (\S+)/.exec(l)![1]} id ${/ id (\d+)/.exec(l)![1]}`);
      lab.exec(rtr, "tc", ["qdisc", "replace", "dev", "r-cli", "clsact"]);
      lab.exec(rtr, "tc", ["filter", "add", "dev", "r-cli", "ingress", "prio", "1", "handle", "1", "bpf", "da", "obj", obj, "sec", "tc"]);
      const foreign = bpfFilters("r-cli");
      assert.equal(foreign.length, 1, filters("r-cli"));
      assert.match(foreign[0]!, /^pref 1 handle 0x1 count_tc id \d+$/);
      const tail = spawn("ip", ["netns", "exec", rtr, counter, "clsact", "r-cli"], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      tail.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const tailExit = new Promise<number>((resolve) => tail.on("close", (c) => resolve(c ?? 1)));
      try {
        await waitFor("sy-tc-count attached", () => (out.includes("ready\n") ? true : undefined), 8000, 50);
        const others = bpfFilters("r-cli");
        assert.equal(others.length, 2, filters("r-cli"));

        loader = await lab.startLoader(rtr, inst3, ["--tc-mode", "clsact"]);
        for (const dev of ["r-cli", "r-srv"]) {
          assert.equal((await call(loader.socketPath, { attach: { ifname: dev, hook: "TC_INGRESS" } })).attach!.mode, "clsact");
        }
        await call(loader.socketPath, program);
        await assertTraffic("clsact next to other filters");
        const withOurs = bpfFilters("r-cli");
        for (const f of others) assert.ok(withOurs.includes(f), `${f} kept after attach: ${withOurs.join("; ")}`);
        assert.ok(withOurs.some((f) => /^pref 21337 handle 0x5359 sy_tc_ingress /.test(f)), withOurs.join("; "));
        assert.equal(withOurs.length, 3, withOurs.join("; "));
        // Re-attaching replaces our filter only.
        await call(loader.socketPath, { attach: { ifname: "r-cli", hook: "TC_INGRESS" } });
        assert.deepEqual(bpfFilters("r-cli").filter((f) => !/sy_tc_ingress/.test(f)), others);

        // Packets to the server itself (no VIP): untouched by ours, so the
        // filter after ours sees them.
        const direct = TCP_CLIENT_JS.replace(`host: "${VIP}", port: 80`, `host: "${SERVER}", port: 8080`);
        for (let i = 0; i < 3; i++) assert.equal(lab.exec(cli, "node", ["-e", direct], { timeoutMs: 5000 }).stdout.trim(), `tcp ${CLIENT}`);
        out = "";
        tail.stdin.write(`${SERVER}\n`);
        const n = await waitFor("count", () => (out.includes("\n") ? Number(out.trim()) : undefined), 5000, 50);
        assert.ok(n >= 9, `the filter after ours counted ${n} packets to ${SERVER} (3 connections: >= 9 expected)`);

        await call(loader.socketPath, { cleanup: {} });
        assert.equal(await loader.waitExit(5000), 0);
        old.push(loader);
        loader = undefined;
        assert.deepEqual(bpfFilters("r-cli"), others, "detach removed our filter only");
      } finally {
        tail.stdin.end();
        const t = setTimeout(() => tail.kill("SIGKILL"), 5000);
        await tailExit;
        clearTimeout(t);
        lab.exec(rtr, "tc", ["filter", "del", "dev", "r-cli", "ingress", "prio", "1", "handle", "1", "bpf"], { allowFail: true });
      }
    }));
});

// ---- 4: REJECT and conntrack cleanup with real traffic ----------------------

const VIP_OK = "198.18.250.11";   // TCP :80 -> SERVER:8080 (a server that keeps connections)
const VIP_NOEP = "198.18.250.12"; // TCP and UDP :80, no endpoint: REJECT
const VIP_DROP = "198.18.250.13"; // TCP :80, no endpoint, SY_SVC_F_DROP_NO_EP

const HOLD_SERVER_JS = `
require("net").createServer((s) => {
  s.on("error", () => {});
  s.on("data", (d) => s.write("echo:" + d));
}).listen(8080, "${SERVER}", () => console.log("ready"));
`;

/** Connects; prints "connected" or the error code, and the elapsed ms. */
const connectJs = (host: string, timeoutMs: number) => `
const t0 = Date.now();
const s = require("net").connect({ host: "${host}", port: 80 });
const done = (what) => { console.log(what + " " + (Date.now() - t0)); process.exit(0); };
s.on("connect", () => done("connected"));
s.on("error", (e) => done(e.code));
setTimeout(() => done("timeout"), ${timeoutMs});
`;

/** A connected UDP socket: prints the error its next receive reports. */
const udpConnectedJs = (host: string) => `
const t0 = Date.now();
const u = require("dgram").createSocket("udp4");
const done = (what) => { console.log(what + " " + (Date.now() - t0)); process.exit(0); };
u.on("error", (e) => done(e.code));
u.on("message", () => done("message"));
u.connect(80, "${host}", () => u.send("ping"));
setTimeout(() => done("timeout"), 2000);
`;

/** An established connection: "established" once the echo came back, then
 * on SIGUSR2 another write, and the error that follows. */
const LONG_CLIENT_JS = `
const s = require("net").connect({ host: "${VIP_OK}", port: 80 });
let t0 = 0;
s.on("error", (e) => { console.log("error " + e.code + " " + (Date.now() - t0)); process.exit(0); });
s.on("close", () => { console.log("closed " + (Date.now() - t0)); process.exit(0); });
s.once("data", (d) => console.log("established " + d));
s.on("connect", () => s.write("a"));
process.on("SIGUSR2", () => { t0 = Date.now(); s.write("b"); setTimeout(() => s.write("c"), 200); });
setTimeout(() => { console.log("timeout"); process.exit(0); }, 15000);
`;

function waitLine(p: import("node:child_process").ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output: ${out}`)), timeoutMs);
    p.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

describe("switchyard-loader REJECT and conntrack cleanup with real traffic", { timeout: 60000 }, () => {
  let lab: Lab;
  let cli = "";
  let rtr = "";
  let loader: LoaderProcess | undefined;
  let sock = "";
  const logs = () => [loader];

  before(async () => {
    lab = new Lab();
    cli = lab.netns("c");
    rtr = lab.netns("r");
    const srv = lab.netns("s");
    lab.veth(rtr, "r-cli", cli, "c0");
    lab.veth(rtr, "r-srv", srv, "s0");
    lab.ip(cli, "addr", "add", `${CLIENT}/24`, "dev", "c0");
    lab.ip(cli, "route", "add", "default", "via", "198.18.1.1");
    lab.ip(rtr, "addr", "add", "198.18.1.1/24", "dev", "r-cli");
    lab.ip(rtr, "addr", "add", "198.18.2.1/24", "dev", "r-srv");
    lab.exec(rtr, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    lab.ip(srv, "addr", "add", `${SERVER}/24`, "dev", "s0");
    lab.ip(srv, "route", "add", "default", "via", "198.18.2.1");
    await waitLine(lab.spawnIn(srv, "node", ["-e", HOLD_SERVER_JS]), /ready/, 8000);

    loader = await lab.startLoader(rtr, lab.instance("rj"));
    sock = loader.socketPath;
    for (const dev of ["r-cli", "r-srv"]) await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS" } });
    await call(sock, {
      apply: {
        ops: [
          { setConfig: { flowHashSeed: 7, nodeAddr: ip("198.18.1.1") } },
          { upsertBackend: { id: 1, addr: ip(SERVER), port: 8080, proto: TCP } },
          { upsertRevnat: { id: 100, addr: ip(VIP_OK), port: 80 } },
          { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
          { upsertService: { key: { addr: ip(VIP_OK), port: 80, proto: TCP }, id: 100, group: 1, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
          { upsertRevnat: { id: 200, addr: ip(VIP_NOEP), port: 80 } },
          { upsertService: { key: { addr: ip(VIP_NOEP), port: 80, proto: TCP }, id: 200, group: 2, count: 0, flags: SY_SVC_F_CLUSTERIP } },
          { upsertService: { key: { addr: ip(VIP_NOEP), port: 80, proto: UDP }, id: 200, group: 2, count: 0, flags: SY_SVC_F_CLUSTERIP } },
          { upsertRevnat: { id: 300, addr: ip(VIP_DROP), port: 80 } },
          { upsertService: { key: { addr: ip(VIP_DROP), port: 80, proto: TCP }, id: 300, group: 3, count: 0, flags: SY_SVC_F_CLUSTERIP | SY_SVC_F_DROP_NO_EP } },
        ],
      },
    });
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("a connect() to a VIP without endpoints fails at once with ECONNREFUSED (TCP reset)", () =>
    withLogs(logs, async () => {
      const r = await lab.execAsync(cli, "node", ["-e", connectJs(VIP_NOEP, 3000)], 8000);
      const [what, ms] = r.stdout.trim().split(" ");
      assert.equal(what, "ECONNREFUSED", `connect: ${r.stdout} ${r.stderr}`);
      assert.ok(Number(ms) < 1000, `refused after ${ms} ms, not a timeout`);
    }));

  it("a connected UDP socket to a VIP without endpoints gets ECONNREFUSED (ICMP port unreachable)", () =>
    withLogs(logs, async () => {
      const r = await lab.execAsync(cli, "node", ["-e", udpConnectedJs(VIP_NOEP)], 8000);
      const [what, ms] = r.stdout.trim().split(" ");
      assert.equal(what, "ECONNREFUSED", `udp: ${r.stdout} ${r.stderr}`);
      assert.ok(Number(ms) < 1000, `refused after ${ms} ms`);
      // No conntrack entry for rejected flows.
      const ct = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(ct.info.entries, 0);
    }));

  it("SY_SVC_F_DROP_NO_EP drops: the connect() times out", () =>
    withLogs(logs, async () => {
      const r = await lab.execAsync(cli, "node", ["-e", connectJs(VIP_DROP, 1500)], 8000);
      assert.equal(r.stdout.trim().split(" ")[0], "timeout", `connect: ${r.stdout} ${r.stderr}`);
    }));

  it("an established flow whose backend is deleted gets a reset; gc_conntrack clears what is left", () =>
    withLogs(logs, async () => {
      const client = lab.spawnIn(cli, "node", ["-e", LONG_CLIENT_JS]);
      const result = waitLine(client, /^(error|closed|timeout)/, 20000);
      assert.equal(await waitLine(client, /^established/, 8000), "established echo:a");
      const backendOf = (e: MapEntry) => Buffer.from(e.value).readUInt32LE(8);
      const ct = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      assert.equal(ct.entries.filter((e) => backendOf(e) === 1).length, 2, "forward + reply entries");

      await call(sock, { apply: { ops: [{ deleteBackend: { id: 1 } }] } });
      client.kill("SIGUSR2");
      const line = await result;
      assert.match(line, /^error ECONNRESET \d+$/, `client: ${line}`);
      assert.ok(Number(line.split(" ")[2]) < 2000, `reset after ${line}`);

      // The datapath deleted the forward entry; the reply entry (keyed by
      // the deleted backend's address) is an orphan for gc_conntrack.
      const ct2 = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!;
      const left = ct2.entries.filter((e) => backendOf(e) === 1);
      assert.equal(left.length, 1, "only the reply entry is left");
      assert.equal(Buffer.from(left[0]!.key)[13], 1, "it is the reply entry");
      // Collected through the agent's own client (what its GC timer sends).
      const agent = new AgentLoaderClient(sock, 30_000);
      try {
        const r = await agent.gcConntrack();
        assert.equal(r.deleted, 1);
        assert.equal(r.orphanedBackend, 1);
      } finally {
        agent.close();
      }
      assert.equal((await call(sock, { dump: { map: "sy_conntrack" } })).dump!.info.entries, 0);
    }));
});

// ---- 5: XDP + tc on external devices, NodePort with SNAT, real traffic ------

const NODE_IP = "198.18.1.1"; // the router's address towards the client: sy_config.node_addr
const NODEPORT = 30080;

describe("switchyard-loader XDP and external tc role with real traffic", { timeout: 90000 }, () => {
  let lab: Lab;
  let cli = "";
  let rtr = "";
  let srv = "";
  let loader: LoaderProcess | undefined;
  let sock = "";
  let instance = "";
  const logs = () => [loader];

  const counters = async (): Promise<Map<number, bigint>> => {
    const d = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
    return new Map(d.entries.map((e) => [Buffer.from(e.key).readUInt32LE(0), Buffer.from(e.value).readBigUInt64LE(0)]));
  };
  const nodePortTcpJs = `
const s = require("net").connect({ host: "${NODE_IP}", port: ${NODEPORT} });
let d = "";
s.setTimeout(2000, () => { console.error("timeout"); process.exit(2); });
s.on("connect", () => s.write("ping"));
s.on("data", (c) => (d += c));
s.on("end", () => { console.log(d); process.exit(0); });
s.on("error", (e) => { console.error(e.message); process.exit(1); });
`;
  const nodePortUdpJs = `
const u = require("dgram").createSocket("udp4");
u.on("message", (m, r) => { console.log(m + " from " + r.address + ":" + r.port); process.exit(0); });
u.send("ping", ${NODEPORT}, "${NODE_IP}");
setTimeout(() => { console.error("timeout"); process.exit(2); }, 1500);
`;

  before(async () => {
    lab = new Lab();
    cli = lab.netns("c");
    rtr = lab.netns("r");
    srv = lab.netns("s");
    lab.veth(rtr, "r-cli", cli, "c0");
    lab.veth(rtr, "r-srv", srv, "s0");
    lab.ip(cli, "addr", "add", `${CLIENT}/24`, "dev", "c0");
    lab.ip(cli, "route", "add", "default", "via", NODE_IP);
    lab.ip(rtr, "addr", "add", `${NODE_IP}/24`, "dev", "r-cli");
    lab.ip(rtr, "addr", "add", "198.18.2.1/24", "dev", "r-srv");
    lab.exec(rtr, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    lab.ip(srv, "addr", "add", `${SERVER}/24`, "dev", "s0");
    lab.ip(srv, "route", "add", "default", "via", "198.18.2.1");
    // XDP_TX / XDP_REDIRECT into a veth deliver to its peer's NAPI queue,
    // which exists only if the peer runs XDP itself or has GRO enabled; and
    // a veth hands XDP packets of local sockets with partial checksums
    // (CHECKSUM_PARTIAL) that lose that state when XDP forwards them, so
    // the peers compute full checksums (tx checksumming off).
    for (const [ns, dev] of [[cli, "c0"], [srv, "s0"]] as const) {
      lab.exec(ns, "ethtool", ["-K", dev, "gro", "on", "tx", "off"]);
    }
    await waitLine(lab.spawnIn(srv, "node", ["-e", SERVER_JS]), /ready/, 8000);

    instance = lab.instance("xdp");
    loader = await lab.startLoader(rtr, instance);
    sock = loader.socketPath;
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("attaches sy_tc_external and sy_xdp to both router devices", () =>
    withLogs(logs, async () => {
      for (const dev of ["r-cli", "r-srv"]) {
        const t = (await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS", role: "EXTERNAL" } })).attach!;
        assert.equal(t.mode, "tcx");
        const x = (await call(sock, { attach: { ifname: dev, hook: "XDP" } })).attach!;
        assert.equal(x.mode, "xdp-native", "veth supports native XDP");
      }
      const st = (await call(sock, { status: {} })).status!;
      const atts = st.attachments.map((a) => `${a.ifname}/${a.hook}/${a.mode}${a.hook === "TC_INGRESS" ? `/${a.role}` : ""}`).sort();
      assert.deepEqual(atts, ["r-cli/TC_INGRESS/tcx/EXTERNAL", "r-cli/XDP/xdp-native", "r-srv/TC_INGRESS/tcx/EXTERNAL", "r-srv/XDP/xdp-native"]);
      for (const dev of ["r-cli", "r-srv"]) assert.ok(existsSync(`${lab.pinDir(instance)}/links/xdp_${dev}`), `xdp link of ${dev} pinned`);
      // The role can be changed in place: the tcx link switches program.
      const pod = (await call(sock, { attach: { ifname: "r-cli", hook: "TC_INGRESS", role: "POD" } })).attach!;
      const st2 = (await call(sock, { status: {} })).status!;
      assert.equal(st2.attachments.find((a) => a.ifname === "r-cli" && a.hook === "TC_INGRESS")!.role, "POD");
      assert.equal(st2.attachments.find((a) => a.ifname === "r-cli" && a.hook === "TC_INGRESS")!.progId, pod.progId);
      await call(sock, { attach: { ifname: "r-cli", hook: "TC_INGRESS", role: "EXTERNAL" } });
      const link = lab.exec(rtr, "ip", ["-d", "link", "show", "dev", "r-cli"]).stdout;
      assert.match(link, /xdp/, "ip link shows the XDP program");
      await call(sock, {
        apply: {
          ops: [
            { setConfig: { flowHashSeed: 99, nodeAddr: ip(NODE_IP) } },
            { upsertBackend: { id: 1, addr: ip(SERVER), port: 8080, proto: TCP } },
            { upsertBackend: { id: 2, addr: ip(SERVER), port: 8080, proto: UDP } },
            { upsertRevnat: { id: 100, addr: ip(NODE_IP), port: NODEPORT } },
            { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
            { setMaglev: { group: 2, backendIds: [2, 2, 2, 2, 2, 2, 2] } },
            { upsertService: { key: { addr: ip(NODE_IP), port: NODEPORT, proto: TCP }, id: 100, group: 1, count: 1, flags: 1 << 1, tableSize: 7 } },
            { upsertService: { key: { addr: ip(NODE_IP), port: NODEPORT, proto: UDP }, id: 100, group: 2, count: 1, flags: 1 << 1, tableSize: 7 } },
          ],
        },
      });
    }));

  it("serves a NodePort through XDP: DNAT + SNAT to a remote backend, replies translated back", () =>
    withLogs(logs, async () => {
      const c0 = await counters();
      const tcpOnce = async () => {
        const r = await lab.execAsync(cli, "node", ["-e", nodePortTcpJs], 5000);
        if (r.code !== 0) throw new Error(`tcp client: exit ${r.code}: ${r.stderr.trim()}`);
        return r.stdout.trim();
      };
      // The server sees the node address (SNAT); the client talks to node:nodePort.
      assert.equal(await waitFor("TCP via the NodePort", tcpOnce, 8000, 200), `tcp ${NODE_IP}`);
      for (let i = 0; i < 4; i++) assert.equal(await tcpOnce(), `tcp ${NODE_IP}`);
      const udp = await lab.execAsync(cli, "node", ["-e", nodePortUdpJs], 5000);
      assert.equal(udp.stdout.trim(), `udp ${NODE_IP} from ${NODE_IP}:${NODEPORT}`, udp.stderr);

      const c1 = await counters();
      const delta = (i: number) => (c1.get(i) ?? 0n) - (c0.get(i) ?? 0n);
      const SY_CNT_XDP_DNAT = 2, SY_CNT_XDP_REVNAT = 3, SY_CNT_XDP_TX = 4, SY_CNT_XDP_REDIRECT = 5, SY_CNT_SNAT = 11, SY_CNT_TC_DNAT = 0;
      const summary = [...c1.entries()].filter(([, v]) => v > 0n).map(([k, v]) => `${k}=${v}`).join(" ");
      assert.ok(delta(SY_CNT_XDP_DNAT) >= 5n, `XDP DNATed the requests (${summary})`);
      assert.ok(delta(SY_CNT_XDP_REVNAT) >= 5n, `XDP reverse-NATed the replies (${summary})`);
      assert.ok(delta(SY_CNT_SNAT) >= 5n, `SNATed (${summary})`);
      assert.ok(delta(SY_CNT_XDP_REDIRECT) > 0n, `XDP forwarded without the stack once the neighbours were known (${summary})`);
      // Only packets XDP could not forward (the first ones, before the
      // neighbours were resolved: tc forwards those with bpf_redirect_neigh)
      // were left to tc, and translated there exactly once.
      assert.ok(delta(SY_CNT_TC_DNAT) < delta(SY_CNT_XDP_DNAT), `most packets went through XDP (${summary})`);
      assert.ok(delta(SY_CNT_TC_DNAT) + delta(SY_CNT_XDP_DNAT) >= 5n * 3n, `requests translated once each (${summary})`);
      assert.equal(delta(SY_CNT_XDP_TX), 0n, "client and server are behind different devices: no XDP_TX");
      const st = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      const xdpStats = find(st.entries, Buffer.concat([u32le(100), u32le(1)]));
      assert.ok(xdpStats && Buffer.from(xdpStats.value).readBigUInt64LE(0) >= 10n, "sy_svc_stats {NodePort, xdp}");
    }));

  it("without XDP, sy_tc_external alone serves the same NodePort", () =>
    withLogs(logs, async () => {
      for (const dev of ["r-cli", "r-srv"]) await call(sock, { detach: { ifname: dev, hook: "XDP" } });
      for (const dev of ["r-cli", "r-srv"]) assert.ok(!existsSync(`${lab.pinDir(instance)}/links/xdp_${dev}`), `xdp link of ${dev} unpinned`);
      const link = lab.exec(rtr, "ip", ["-d", "link", "show", "dev", "r-cli"]).stdout;
      assert.doesNotMatch(link, /prog\/xdp/, "XDP detached");
      const c0 = await counters();
      const r = await lab.execAsync(cli, "node", ["-e", nodePortTcpJs], 5000);
      assert.equal(r.stdout.trim(), `tcp ${NODE_IP}`, r.stderr);
      const c1 = await counters();
      assert.ok((c1.get(0) ?? 0n) > (c0.get(0) ?? 0n), "SY_CNT_TC_DNAT");
      assert.ok((c1.get(1) ?? 0n) > (c0.get(1) ?? 0n), "SY_CNT_TC_REVNAT");
      assert.equal(c1.get(2), c0.get(2), "no XDP DNAT");
    }));
});

// ---- 6: socket-level load balancing (cgroup sock_addr), real sockets --------

const SK_CLIENT = "198.18.4.2"; // the client namespace's address, also sy_config.node_addr
const SK_SERVER = "198.18.4.3";
const SK_VIP = "198.18.250.40";
const SK_VIP_NOEP = "198.18.250.41";
const SK_VIP_HOSTEP = "198.18.250.42"; // a frontend flagged SY_SVC_F_HOST_EP
const SK_NODEPORT = 30080;

const SK_SERVER_JS = `
const net = require("net"), dgram = require("dgram");
let up = 0;
const ready = () => { if (++up === 2) console.log("ready"); };
net.createServer((s) => {
  s.on("error", () => {});
  s.once("data", () => s.end("tcp " + s.remoteAddress));
}).listen(8080, "${SK_SERVER}", ready);
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send("udp " + r.address, r.port, r.address));
u.bind(8080, "${SK_SERVER}", ready);
`;

/** Prints one JSON object: what each kind of socket saw. */
const SK_CLIENT_JS = `
const net = require("net"), dgram = require("dgram");
const tcp = (host, port) => new Promise((res) => {
  const s = net.connect({ host, port });
  let peer = "", data = "";
  s.on("connect", () => { peer = s.remoteAddress + ":" + s.remotePort; s.write("ping"); });
  s.on("data", (c) => (data += c));
  s.on("end", () => res({ peer, data }));
  s.on("error", (e) => res({ error: e.code }));
  setTimeout(() => res({ error: "timeout" }), 2000);
});
const udp = (host, port, connected) => new Promise((res) => {
  const u = dgram.createSocket("udp4");
  let peer = "";
  u.on("message", (m, r) => { u.close(); res({ peer, from: r.address + ":" + r.port, data: String(m) }); });
  u.on("error", (e) => res({ error: e.code }));
  if (connected) u.connect(port, host, (err) => { if (err) return res({ error: err.code }); const a = u.remoteAddress(); peer = a.address + ":" + a.port; u.send("ping"); });
  else u.send("ping", port, host);
  setTimeout(() => res({ error: "timeout" }), 2000);
});
(async () => {
  const out = {};
  const only = process.argv[1];
  if (!only || only === "tcp") out.tcp = await tcp("${SK_VIP}", 80);
  if (only === "udpc") out.udpc = await udp("${SK_VIP}", 80, true);
  if (only === "udpc-hostep") out.udpc = await udp("${SK_VIP_HOSTEP}", 80, true);
  if (only === "udpc-lo") out.udpc = await udp("127.0.0.1", ${SK_NODEPORT}, true);
  if (!only) {
    out.noep = await tcp("${SK_VIP_NOEP}", 80);
    out.udp = await udp("${SK_VIP}", 80, false);
    out.udpc = await udp("${SK_VIP}", 80, true);
    out.lo = await tcp("127.0.0.1", ${SK_NODEPORT});
    out.node = await tcp("${SK_CLIENT}", ${SK_NODEPORT});
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})();
`;

describe("switchyard-loader socket-level load balancing (cgroup sock_addr) with real sockets", { timeout: 60000 }, () => {
  let lab: Lab;
  let cns = "";
  let loader: LoaderProcess | undefined;
  let sock = "";
  let instance = "";
  let cg = "";
  const logs = () => [loader];
  const clientRun = async (only?: string) => {
    const r = await lab.execInCgroup(cg, cns, "node", ["-e", SK_CLIENT_JS, ...(only ? [only] : [])], 15000);
    assert.equal(r.code, 0, `client: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, { peer?: string; from?: string; data?: string; error?: string }>;
  };

  before(async () => {
    lab = new Lab();
    cns = lab.netns("k");
    const sns = lab.netns("v");
    lab.veth(cns, "k0", sns, "v0");
    lab.ip(cns, "addr", "add", `${SK_CLIENT}/24`, "dev", "k0");
    lab.ip(sns, "addr", "add", `${SK_SERVER}/24`, "dev", "v0");
    await waitLine(lab.spawnIn(sns, "node", ["-e", SK_SERVER_JS]), /ready/, 8000);
    cg = lab.cgroup("sk");
    instance = lab.instance("sk");
    loader = await lab.startLoader(cns, instance);
    sock = loader.socketPath;
    await call(sock, {
      apply: {
        ops: [
          { setConfig: { flowHashSeed: 5, nodeAddr: ip(SK_CLIENT) } },
          { upsertBackend: { id: 1, addr: ip(SK_SERVER), port: 8080, proto: TCP } },
          { upsertBackend: { id: 2, addr: ip(SK_SERVER), port: 8080, proto: UDP } },
          { upsertRevnat: { id: 100, addr: ip(SK_VIP), port: 80 } },
          { upsertRevnat: { id: 101, addr: ip(SK_VIP_NOEP), port: 80 } },
          { upsertRevnat: { id: 102, addr: ip(SK_CLIENT), port: SK_NODEPORT } },
          { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
          { setMaglev: { group: 2, backendIds: [2, 2, 2, 2, 2, 2, 2] } },
          { upsertService: { key: { addr: ip(SK_VIP), port: 80, proto: TCP }, id: 100, group: 1, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
          { upsertService: { key: { addr: ip(SK_VIP), port: 80, proto: UDP }, id: 100, group: 2, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
          { upsertService: { key: { addr: ip(SK_VIP_NOEP), port: 80, proto: TCP }, id: 101, group: 3, count: 0, flags: SY_SVC_F_CLUSTERIP } },
          { upsertService: { key: { addr: ip(SK_CLIENT), port: SK_NODEPORT, proto: TCP }, id: 102, group: 1, count: 1, flags: 1 << 1, tableSize: 7 } },
        ],
      },
    });
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("refuses root cgroups and paths that are not cgroup v2 directories", () =>
    withLogs(logs, async () => {
      const c = await LoaderClient.connect(sock);
      try {
        for (const [path, code] of [
          ["/sys/fs/cgroup/unified", "INVALID"],
          ["/sys/fs/cgroup/unified/", "INVALID"],
          [`${cg}/..`, "INVALID"],
          ["/sys/fs/cgroup", "INVALID"],
          ["/tmp", "INVALID"],
          ["relative/path", "INVALID"],
          ["", "INVALID"],
          [`${cg}-nonexistent`, "NOT_FOUND"],
        ] as const) {
          const r = await c.request({ attach: { hook: "SOCK_LB", cgroupPath: path } });
          assert.equal(r.code, code, `${path}: ${r.code} ${r.error}`);
          assert.match(r.error, /cgroup_path/);
        }
      } finally {
        c.destroy();
      }
      const root = run("bpftool", ["cgroup", "show", "/sys/fs/cgroup/unified"]).stdout;
      assert.doesNotMatch(root, /sy_/, "nothing attached to the root cgroup");
    }));

  it("attaches the four programs to a cgroup", () =>
    withLogs(logs, async () => {
      const a = (await call(sock, { attach: { hook: "SOCK_LB", cgroupPath: cg } })).attach!;
      assert.equal(a.mode, "cgroup");
      assert.equal(a.ifindex, statSync(cg).ino % 2 ** 32, "the cgroup id");
      // Idempotent (links updated in place).
      assert.equal((await call(sock, { attach: { hook: "SOCK_LB", cgroupPath: `${cg}/` } })).attach!.ifindex, a.ifindex);
      const show = run("bpftool", ["cgroup", "show", cg]).stdout;
      for (const [type, prog] of [["inet4_connect", "sy_connect4"], ["udp4_sendmsg", "sy_sendmsg4"], ["udp4_recvmsg", "sy_recvmsg4"], ["inet4_getpeername", "sy_getpeername4"]]) {
        assert.match(show, new RegExp(`cgroup_${type}\\s.*\\s${prog}\\s`), `${prog} attached (${show})`);
      }
      const st = (await call(sock, { status: {} })).status!;
      assert.deepEqual(
        st.attachments.map((x) => [x.hook, x.mode, x.cgroupPath, x.ifname]),
        [["SOCK_LB", "cgroup", cg, cg.split("/").pop()!.slice(0, 15)]],
      );
      const probe = new Map((await call(sock, { probe: {} })).probe!.features.map((f) => [f.name, f]));
      for (const f of ["prog_type:cgroup_sock_addr", "attach:cgroup_sock_addr", "program:sy_connect4", "program:sy_getpeername4", "helper:cgroup_sock_addr:bpf_set_retval"]) {
        assert.equal(probe.get(f)?.available, true, `${f}: ${probe.get(f)?.detail}`);
      }
    }));

  it("connect() and sendto() reach the backend without any tc program; the peer shows as the frontend", () =>
    withLogs(logs, async () => {
      const c0 = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
      const out = await clientRun();
      assert.deepEqual(out.tcp, { peer: `${SK_VIP}:80`, data: `tcp ${SK_CLIENT}` }, "TCP: getpeername() is the VIP, the server sees the client");
      assert.deepEqual(out.noep, { error: "ECONNREFUSED" }, "no endpoint: connect() refused at once");
      assert.deepEqual(out.udp, { peer: "", from: `${SK_VIP}:80`, data: `udp ${SK_CLIENT}` }, "unconnected UDP: recvfrom() sees the VIP");
      assert.deepEqual(out.udpc, { peer: `${SK_VIP}:80`, from: `${SK_VIP}:80`, data: `udp ${SK_CLIENT}` }, "connected UDP");
      assert.deepEqual(out.lo, { peer: `127.0.0.1:${SK_NODEPORT}`, data: `tcp ${SK_CLIENT}` }, "NodePort on 127.0.0.1");
      assert.deepEqual(out.node, { peer: `${SK_CLIENT}:${SK_NODEPORT}`, data: `tcp ${SK_CLIENT}` }, "NodePort on the node address");
      const tc = lab.exec(cns, "tc", ["filter", "show", "dev", "k0", "ingress"]).stdout;
      assert.doesNotMatch(tc, /bpf/, "no tc program anywhere");
      assert.equal((await call(sock, { status: {} })).status!.attachments.length, 1);

      const c1 = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
      const cnt = (d: typeof c1, i: number) => Buffer.from(find(d.entries, u32le(i))!.value).readBigUInt64LE(0);
      assert.equal(cnt(c1, 12) - cnt(c0, 12), 4n, "SY_CNT_SOCK_CONNECT: tcp, connected udp, 127.0.0.1, node address");
      assert.equal(cnt(c1, 13) - cnt(c0, 13), 1n, "SY_CNT_SOCK_SENDMSG: the unconnected datagram");
      const st = (await call(sock, { dump: { map: "sy_svc_stats" } })).dump!;
      const vip = find(st.entries, Buffer.concat([u32le(100), u32le(2)]));
      assert.ok(vip && Buffer.from(vip.value).readBigUInt64LE(0) === 3n, "sy_svc_stats {VIP, sock}: 3 translations");
      const rn = (await call(sock, { dump: { map: "sy_sock_revnat" } })).dump!;
      assert.equal(rn.info.keySize, 16);
      assert.equal(rn.info.valueSize, 12);
      const e = rn.entries.find((x) => Buffer.from(x.key).subarray(8, 14).equals(Buffer.concat([ip(SK_SERVER), be16(8080)])));
      assert.ok(e, "an entry {cookie, backend}");
      assert.deepEqual(Buffer.from(e.value).subarray(6, 12), Buffer.concat([Buffer.alloc(2), u32le(Buffer.from(e.value).subarray(0, 4).equals(ip(SK_VIP)) ? 100 : 102)]));

      // A process outside the cgroup is not balanced: the VIP is unroutable there.
      const outside = await lab.execAsync(cns, "node", ["-e", SK_CLIENT_JS, "tcp"], 10000);
      assert.equal(JSON.parse(outside.stdout).tcp.error, "ENETUNREACH");
    }));

  it("with POD_UDP_CONNECT_TC, connect() leaves UDP sockets of other namespaces to tc and translates the node's own", () =>
    withLogs(logs, async () => {
      const SY_CFG_F_POD_UDP_CONNECT_TC = 1 << 1;
      const connects = async () => {
        const d = (await call(sock, { dump: { map: "sy_counters" } })).dump!;
        return Buffer.from(find(d.entries, u32le(12))!.value).readBigUInt64LE(0);
      };
      // A pod: another namespace in the same cgroup, without routes, so
      // every connect() fails (ENETUNREACH) after the program ran; the
      // connect counter tells whether the program translated it.
      const pns = lab.netns("p");
      const podRun = async (only: string) => {
        const r = await lab.execInCgroup(cg, pns, "node", ["-e", SK_CLIENT_JS, only], 15000);
        assert.equal(r.code, 0, `pod client: ${r.stderr}`);
        return JSON.parse(r.stdout) as Record<string, { error?: string }>;
      };
      let c0 = await connects();
      assert.equal((await podRun("udpc")).udpc!.error, "ENETUNREACH");
      assert.equal(await connects() - c0, 1n, "without the flag a pod's UDP connect() is translated");

      await call(sock, { apply: { ops: [{ setConfig: { flowHashSeed: 5, flags: SY_CFG_F_POD_UDP_CONNECT_TC, nodeAddr: ip(SK_CLIENT) } }] } });
      const cfg = (await call(sock, { dump: { map: "sy_config" } })).dump!;
      assert.equal(cfg.info.valueSize, 32);
      const v = Buffer.from(cfg.entries[0]!.value);
      assert.equal(v.readUInt32LE(4), SY_CFG_F_POD_UDP_CONNECT_TC);
      assert.notEqual(v.readBigUInt64LE(16), 0n, "the loader filled in its namespace's cookie");
      try {
        c0 = await connects();
        assert.equal((await podRun("udpc")).udpc!.error, "ENETUNREACH");
        assert.equal(await connects() - c0, 0n, "a pod's UDP connect() is left alone");
        assert.equal((await podRun("tcp")).tcp!.error, "ENETUNREACH");
        assert.equal(await connects() - c0, 1n, "a pod's TCP connect() is still translated");
        // Still translated at connect(): a frontend with an endpoint on the
        // node itself (the node's replies to the pod would pass no program),
        // and 127.0.0.1 (the pod's own loopback: tc never sees it).
        await call(sock, { apply: { ops: [
          { upsertService: { key: { addr: ip(SK_VIP_HOSTEP), port: 80, proto: UDP }, id: 103, group: 2, count: 1, flags: SY_SVC_F_CLUSTERIP | SY_SVC_F_HOST_EP, tableSize: 7 } },
          { upsertService: { key: { addr: ip(SK_CLIENT), port: SK_NODEPORT, proto: UDP }, id: 102, group: 2, count: 1, flags: 1 << 1, tableSize: 7 } },
        ] } });
        c0 = await connects();
        assert.equal((await podRun("udpc-hostep")).udpc!.error, "ENETUNREACH");
        assert.equal(await connects() - c0, 1n, "a pod's UDP connect() to a frontend with a host endpoint is translated");
        c0 = await connects();
        await podRun("udpc-lo");
        assert.equal(await connects() - c0, 1n, "a pod's UDP connect() to 127.0.0.1:nodePort is translated");
        c0 = await connects();
        const out = await clientRun();
        assert.deepEqual(out.udpc, { peer: `${SK_VIP}:80`, from: `${SK_VIP}:80`, data: `udp ${SK_CLIENT}` }, "the node's own connected UDP is translated");
        assert.equal(await connects() - c0, 4n, "tcp, connected udp, 127.0.0.1, node address");
      } finally {
        await call(sock, { apply: { ops: [
          { setConfig: { flowHashSeed: 5, nodeAddr: ip(SK_CLIENT) } },
          { deleteService: { key: { addr: ip(SK_VIP_HOSTEP), port: 80, proto: UDP } } },
          { deleteService: { key: { addr: ip(SK_CLIENT), port: SK_NODEPORT, proto: UDP } } },
        ] } });
      }
    }));

  it("detach removes the links; a cgroup removed while attached is detached by its path", () =>
    withLogs(logs, async () => {
      await call(sock, { detach: { hook: "SOCK_LB", cgroupPath: cg } });
      assert.equal(run("bpftool", ["cgroup", "show", cg]).stdout.trim(), "", "no program left on the cgroup");
      assert.equal((await call(sock, { status: {} })).status!.attachments.length, 0);
      assert.equal((await clientRun("tcp")).tcp!.error, "ENETUNREACH", "not balanced any more");
      await call(sock, { detach: { hook: "SOCK_LB", cgroupPath: cg } }); // idempotent

      await call(sock, { attach: { hook: "SOCK_LB", cgroupPath: cg } });
      await lab.removeCgroup(cg);
      const r = await call(sock, { detach: { hook: "SOCK_LB", cgroupPath: cg } });
      assertOk(r, "detach of a removed cgroup");
      const pins = run("ls", [`${lab.pinDir(instance)}/links`], { allowFail: true }).stdout;
      assert.doesNotMatch(pins, /sock_/, "link pins removed");
      assert.equal((await call(sock, { status: {} })).status!.attachments.length, 0, "record removed");
      const c = await LoaderClient.connect(sock);
      try {
        assert.equal((await c.request({ detach: { hook: "SOCK_LB", cgroupPath: cg } })).code, "NOT_FOUND");
      } finally {
        c.destroy();
      }
    }));
});
