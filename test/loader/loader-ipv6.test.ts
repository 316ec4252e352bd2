// The loader's IPv6 maps (issue #16): a 16-byte address in an apply op goes to
// the family's twin (sy_services6, sy_backends6, sy_revnat6,
// sy_source_ranges6), SetConfig writes sy_config6, deletes by id and
// conntrack flush/GC cover both families, and bad lengths are refused with
// nothing written. Byte layouts: bpf/include/sy_structs.h "IPv6 twins".
// Needs root, bpffs and a built loader, as loader.test.ts.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { call, LoaderClient, type MapEntry, type Response } from "./loader-client.js";
import { Lab, type LoaderProcess, run, withLoaderLogs } from "./lab.js";
import { parseAddress } from "../../control-plane/src/util/ip.js";

const ip = (s: string): Buffer => Buffer.from(parseAddress(s)!.bytes);
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
const TCP = 6;
const UDP = 17;
const SEC = 1_000_000_000n;
const SY_CT_F_SEEN_REPLY = 1;
const SY_CT_F_ESTABLISHED = 0x20;

// sy_svc_key6 (20 B), sy_backend6 (28 B), sy_revnat6 (20 B), sy_source_range_key6 (24 B).
const svcKey6 = (addr: string, port: number, proto: number, scope = 0) => Buffer.concat([ip(addr), be16(port), Buffer.from([proto, scope])]);
const svcValue = (id: number, group: number, count: number, flags: number, aff: number, m: number) =>
  Buffer.concat([u32le(id), u32le(group), u16le(count), u16le(flags), u32le(aff), u32le(m)]);
const backend6 = (addr: string, port: number, proto: number, state = 0, flags = 0, zone = 0) =>
  Buffer.concat([ip(addr), be16(port), Buffer.from([proto, state, flags, 0, 0, 0]), u32le(zone)]);
const revnat6 = (addr: string, port: number) => Buffer.concat([ip(addr), be16(port), Buffer.alloc(2)]);
const srcRangeKey6 = (prefixLen: number, frontendId: number, addr: string) => Buffer.concat([u32le(32 + prefixLen), u32le(frontendId), ip(addr)]);
// sy_ct_key6 (40 B) and sy_ct_value6 (40 B: the head of sy_ct_value, then nat_port at 20, nat_addr at 24).
const ctKey6 = (saddr: string, daddr: string, sport: number, dport: number, proto: number, dir = 0) =>
  Buffer.concat([ip(saddr), ip(daddr), be16(sport), be16(dport), Buffer.from([proto, dir, 0, 0])]);
const ctValue6 = (lastSeen: bigint, backendId: number, revNatId: number, flags: number) => {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(lastSeen, 0);
  b.writeUInt32LE(backendId, 8);
  b.writeUInt32LE(revNatId, 12);
  b.writeUInt16LE(flags, 18);
  return b;
};
// sy_affinity_key6 (20 B) -> sy_affinity_value (16 B).
const affKey6 = (client: string, group: number) => Buffer.concat([ip(client), u32le(group)]);
const monoNs = (): bigint => process.hrtime.bigint();
const hexArgs = (b: Buffer): string[] => [...b].map((x) => x.toString(16).padStart(2, "0"));
function bpftoolUpdate(pin: string, key: Buffer, value: Buffer): void {
  run("bpftool", ["map", "update", "pinned", pin, "key", "hex", ...hexArgs(key), "value", "hex", ...hexArgs(value)]);
}

const find = (entries: MapEntry[], key: Buffer) => entries.find((e) => Buffer.from(e.key).equals(key));
const assertOk = (r: Response, what: string) => assert.equal(r.code, "OK", `${what}: ${r.code} ${r.error}`);

describe("switchyard-loader IPv6 maps", { timeout: 60000 }, () => {
  let lab: Lab;
  let loader: LoaderProcess | undefined;
  let sock = "";
  let instance = "";
  const dump = async (map: string) => {
    const r = await call(sock, { dump: { map } });
    assertOk(r, `dump ${map}`);
    return r.dump!;
  };
  const apply = async (ops: Array<Record<string, unknown>>) => {
    const r = await call(sock, { apply: { ops } });
    assertOk(r, "apply");
    assert.equal(r.apply!.applied, ops.length);
    return r.apply!;
  };
  /** One request, whatever its answer's code. */
  const ask = async (op: Record<string, unknown>) => {
    const c = await LoaderClient.connect(sock);
    try {
      return await c.request(op);
    } finally {
      c.destroy();
    }
  };
  const withLogs = (fn: () => Promise<void>): Promise<void> => withLoaderLogs(() => loader, fn);

  before(async () => {
    lab = new Lab();
    const ns = lab.netns("v6");
    instance = lab.instance("v6");
    loader = await lab.startLoader(ns, instance, ["--max-services", "1024", "--max-backends", "2048", "--ct-max", "4096"]);
    sock = loader.socketPath;
  });

  after(async () => {
    await lab?.cleanup();
  });

  it("pins the IPv6 twins, sized as their IPv4 maps", () =>
    withLogs(async () => {
      const st = (await call(sock, { status: {} })).status!;
      const info = (m: string) => {
        const x = st.maps.find((y) => y.name === m);
        assert.ok(x, `status lists ${m}`);
        assert.ok(x.pinPath && existsSync(x.pinPath), `${m} pinned`);
        return x;
      };
      for (const [m6, m4] of [["sy_services6", "sy_services"], ["sy_revnat6", "sy_revnat"], ["sy_backends6", "sy_backends"], ["sy_conntrack6", "sy_conntrack"], ["sy_sock_revnat6", "sy_sock_revnat"]] as const) {
        assert.equal(info(m6).maxEntries, info(m4).maxEntries, `${m6} sized as ${m4}`);
      }
      assert.equal(info("sy_services6").maxEntries, 1024);
      assert.equal(info("sy_backends6").maxEntries, 2048);
      assert.equal(info("sy_conntrack6").maxEntries, 4096);
      assert.equal(info("sy_source_ranges6").type, "lpm_trie");
      assert.equal(info("sy_config6").valueSize, 48);
    }));

  it("writes each IPv6 map from 16-byte addresses, reads it back by dump and lookup, and leaves the IPv4 maps alone", () =>
    withLogs(async () => {
      await apply([
        { upsertBackend: { id: 601, addr: ip("fd00:10:244:1::5"), port: 8080, proto: TCP, state: 1, flags: 2, zone: 7 } },
        { upsertBackend: { id: 602, addr: ip("198.18.2.2"), port: 8080, proto: TCP } },
        { setMaglev: { group: 610, backendIds: [601, 601, 601, 601, 601, 601, 601] } },
        { upsertRevnat: { id: 611, addr: ip("fd00:96::a"), port: 80 } },
        { upsertSourceRange: { frontendId: 611, addr: ip("fd00:1:2:3:4:5:6:7"), prefixLen: 61 } },
        { upsertSourceRange: { frontendId: 611, addr: ip("198.18.9.0"), prefixLen: 24 } },
        { upsertService: { key: { addr: ip("fd00:96::a"), port: 80, proto: TCP, scope: 1 }, id: 611, group: 610, count: 1, flags: 1, affinityTimeout: 0, tableSize: 7 } },
      ]);
      const be = await dump("sy_backends6");
      assert.equal(be.entries.length, 1);
      assert.deepEqual(Buffer.from(find(be.entries, u32le(601))!.value), backend6("fd00:10:244:1::5", 8080, TCP, 1, 2, 7));
      const be4 = await dump("sy_backends");
      assert.ok(find(be4.entries, u32le(602)), "the IPv4 backend went to sy_backends");
      assert.equal(find(be4.entries, u32le(601)), undefined, "the IPv6 backend is not in sy_backends");
      assert.deepEqual(Buffer.from(find((await dump("sy_revnat6")).entries, u32le(611))!.value), revnat6("fd00:96::a", 80));
      assert.equal((await dump("sy_revnat")).entries.length, 0);
      const svc = await dump("sy_services6");
      assert.deepEqual(Buffer.from(find(svc.entries, svcKey6("fd00:96::a", 80, TCP, 1))!.value), svcValue(611, 610, 1, 1, 0, 7));
      assert.equal((await dump("sy_services")).entries.length, 0);
      // Host bits zeroed: fd00:1:2:3:4:5:6:7/61 is fd00:1:2::/61.
      const sr = await dump("sy_source_ranges6");
      assert.equal(sr.entries.length, 1);
      assert.deepEqual(Buffer.from(sr.entries[0]!.key), srcRangeKey6(61, 611, "fd00:1:2::"));
      assert.equal((await dump("sy_source_ranges")).entries.length, 1, "the IPv4 range went to sy_source_ranges");
      // Lookup reads single keys of the *6 maps.
      const lk = (await call(sock, { lookup: { map: "sy_services6", keys: [svcKey6("fd00:96::a", 80, TCP, 1), svcKey6("fd00:96::b", 80, TCP, 1)] } })).lookup!;
      assert.equal(lk.values[0]!.found, true);
      assert.deepEqual(Buffer.from(lk.values[0]!.value), svcValue(611, 610, 1, 1, 0, 7));
      assert.equal(lk.values[1]!.found, false);
      const wrong = await ask({ lookup: { map: "sy_services6", keys: [Buffer.alloc(8)] } });
      assert.equal(wrong.code, "INVALID");
      assert.match(wrong.error, /20-byte keys/);

      // Deletes: a range by a key with other host bits, the service by its
      // 16-byte key, backend and frontend by id (from whichever map has it).
      await apply([
        { deleteService: { key: { addr: ip("fd00:96::a"), port: 80, proto: TCP, scope: 1 } } },
        { deleteSourceRange: { frontendId: 611, addr: ip("fd00:1:2:7::"), prefixLen: 61 } },
        { deleteSourceRange: { frontendId: 611, addr: ip("198.18.9.0"), prefixLen: 24 } },
        { deleteRevnat: { id: 611 } },
        { deleteMaglev: { group: 610 } },
        { deleteBackend: { id: 601 } },
        { deleteBackend: { id: 602 } },
      ]);
      for (const m of ["sy_services6", "sy_source_ranges6", "sy_revnat6", "sy_backends6", "sy_backends", "sy_source_ranges", "sy_maglev"]) {
        assert.equal((await dump(m)).entries.length, 0, `${m} empty`);
      }
    }));

  it("set_config writes sy_config6: the node's IPv6 address and the IPv6 Service CIDR, host bits zeroed", () =>
    withLogs(async () => {
      await apply([
        {
          setConfig: {
            flowHashSeed: 5,
            nodeAddr: ip("198.18.0.11"),
            serviceCidrAddr: ip("198.18.250.0"),
            serviceCidrPrefixLen: 24,
            nodeAddr6: ip("fd00:18::11"),
            serviceCidr6Addr: ip("fd00:96::ff:1"),
            serviceCidr6PrefixLen: 108,
          },
        },
      ]);
      const c6 = (await dump("sy_config6")).entries[0]!;
      const mask = Buffer.alloc(16, 0xff);
      mask[13] = 0xf0;
      mask.fill(0, 14);
      assert.deepEqual(Buffer.from(c6.value), Buffer.concat([ip("fd00:18::11"), ip("fd00:96::f0:0"), mask]));
      // IPv4-only config: sy_config6 all zero again.
      await apply([{ setConfig: { flowHashSeed: 5, nodeAddr: ip("198.18.0.11") } }]);
      assert.deepEqual(Buffer.from((await dump("sy_config6")).entries[0]!.value), Buffer.alloc(48));
    }));

  it("refuses wrong lengths and prefixes with a clear error, counts it, and writes nothing", () =>
    withLogs(async () => {
      await apply([{ upsertBackend: { id: 620, addr: ip("fd00::620"), port: 80, proto: TCP } }]);
      const before = (await call(sock, { status: {} })).status!;
      const good = { upsertBackend: { id: 621, addr: ip("fd00::621"), port: 80, proto: TCP } };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ upsertBackend: { id: 622, addr: Buffer.alloc(15), port: 80, proto: TCP } }, "ops[1].upsert_backend.addr: an address must be 4 bytes (IPv4) or 16 bytes (IPv6), got 15"],
        [{ upsertRevnat: { id: 622, addr: Buffer.alloc(6), port: 80 } }, "ops[1].upsert_revnat.addr: an address must be 4 bytes (IPv4) or 16 bytes (IPv6), got 6"],
        [{ upsertService: { key: { addr: Buffer.alloc(17), port: 80, proto: TCP } } }, "ops[1].upsert_service.key.addr"],
        [{ deleteService: { key: { addr: Buffer.alloc(8), port: 80, proto: TCP } } }, "ops[1].delete_service.key.addr"],
        [{ upsertSourceRange: { frontendId: 1, addr: ip("fd00::"), prefixLen: 129 } }, "ops[1].upsert_source_range.prefix_len: 129 is not an IPv6 prefix length (0-128)"],
        [{ deleteSourceRange: { frontendId: 1, addr: ip("198.18.0.0"), prefixLen: 64 } }, "ops[1].delete_source_range.prefix_len: 64 is not an IPv4 prefix length (0-32)"],
        [{ setConfig: { flowHashSeed: 1, nodeAddr6: ip("198.18.0.1") } }, "ops[1].set_config.node_addr6: an IPv6 address must be 16 bytes, got 4"],
        [{ setConfig: { flowHashSeed: 1, nodeAddr: ip("fd00::1") } }, "ops[1].set_config.node_addr: an IPv4 address must be 4 bytes, got 16"],
        [{ setConfig: { flowHashSeed: 1, serviceCidr6Addr: ip("fd00:96::"), serviceCidr6PrefixLen: 0 } }, "not an IPv6 CIDR with a prefix of 1..128"],
        [{ setConfig: { flowHashSeed: 1, serviceCidr6Addr: ip("fd00:96::"), serviceCidr6PrefixLen: 129 } }, "not an IPv6 CIDR with a prefix of 1..128"],
        [{ setConfig: { flowHashSeed: 1, serviceCidr6Addr: ip("198.18.0.0"), serviceCidr6PrefixLen: 16 } }, "service_cidr6 4 bytes /16 is not an IPv6 CIDR"],
        [{ setConfig: { flowHashSeed: 1, serviceCidr6PrefixLen: 64 } }, "service_cidr6_prefix_len without service_cidr6_addr"],
        [{ setConfig: { flowHashSeed: 1, nodeAddr6: ip("fd00:96::5"), serviceCidr6Addr: ip("fd00:96::"), serviceCidr6PrefixLen: 112 } }, "the IPv6 service CIDR holds node_addr6"],
      ];
      for (const [op, msg] of cases) {
        const r = await ask({ apply: { ops: [good, op] } });
        assert.equal(r.code, "INVALID", JSON.stringify(op));
        assert.ok(r.error.includes(msg), `error "${r.error}" names "${msg}"`);
        assert.equal(r.apply!.applied, 0);
        assert.equal(r.apply!.failedOp, 1);
      }
      const st = (await call(sock, { status: {} })).status!;
      assert.equal(st.errors - before.errors, cases.length, "each refusal counted");
      const be = await dump("sy_backends6");
      assert.ok(find(be.entries, u32le(620)), "what was there is kept");
      assert.equal(find(be.entries, u32le(621)), undefined, "the valid op before a bad one was not applied");
      // The IPv4 prefix lengths still work as before, and 33..128 is fine for IPv6.
      await apply([{ upsertSourceRange: { frontendId: 9, addr: ip("fd00::"), prefixLen: 100 } }, { deleteSourceRange: { frontendId: 9, addr: ip("fd00::"), prefixLen: 100 } }, { deleteBackend: { id: 620 } }]);
    }));

  it("gc_conntrack judges sy_conntrack6 against sy_backends6/sy_revnat6; flush_conntrack and delete_affinity cover the IPv6 maps", () =>
    withLogs(async () => {
      await apply([
        { upsertBackend: { id: 641, addr: ip("fd00:10:244:1::41"), port: 8080, proto: TCP } },
        { upsertRevnat: { id: 651, addr: ip("fd00:96::51"), port: 80 } },
        // IPv4 twins of other ids: an IPv6 flow naming them is still an orphan.
        { upsertBackend: { id: 642, addr: ip("198.18.2.42"), port: 8080, proto: TCP } },
        { upsertRevnat: { id: 652, addr: ip("198.18.250.52"), port: 80 } },
      ]);
      const pin = `${lab.pinDir(instance)}/sy_conntrack6`;
      const now = monoNs();
      assert.ok(now > 70n * SEC, "CLOCK_MONOTONIC is past 70 s (uptime)");
      const ago = (s: number) => now - BigInt(s) * SEC;
      const est = SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED;
      const cases: Array<[string, number, bigint, number, number, number, boolean]> = [
        ["tcp established, fresh", TCP, now, 641, 651, est, true],
        ["tcp without reply, idle 61 s", TCP, ago(61), 641, 651, 0, false],
        ["udp, idle 30 s", UDP, ago(30), 641, 651, est, true],
        ["udp, idle 61 s", UDP, ago(61), 641, 651, est, false],
        ["backend 642 is an IPv4 backend", TCP, now, 642, 651, est, false],
        ["revnat 652 is an IPv4 frontend", TCP, now, 641, 652, est, false],
        ["backend 699 does not exist", TCP, now, 699, 651, est, false],
      ];
      const keyOf = (i: number) => ctKey6("fd00:10:244:2::2", "fd00:96::51", 30000 + i, 80, cases[i]![1]);
      cases.forEach(([, , last, be, rn, flags], i) => bpftoolUpdate(pin, keyOf(i), ctValue6(last, be, rn, flags)));
      const r = await call(sock, { gcConntrack: {} });
      assertOk(r, "gc");
      assert.equal(r.gcConntrack!.scanned, cases.length);
      assert.equal(r.gcConntrack!.deleted, cases.filter((c) => !c[6]).length);
      assert.equal(r.gcConntrack!.orphanedBackend, 2);
      assert.equal(r.gcConntrack!.orphanedFrontend, 1);
      assert.equal(r.gcConntrack!.expired, 2);
      const left = await dump("sy_conntrack6");
      cases.forEach(([name, , , , , , kept], i) => assert.equal(!!find(left.entries, keyOf(i)), kept, `${name}: ${kept ? "kept" : "deleted"}`));
      assert.deepEqual(Buffer.from(find(left.entries, keyOf(0))!.value), ctValue6(now, 641, 651, est), "kept entries untouched");

      // flush_conntrack by backend id reaches sy_conntrack6.
      const f = await apply([{ flushConntrack: { backendId: 641 } }]);
      assert.equal(f.deleted, 2);
      assert.equal((await dump("sy_conntrack6")).entries.length, 0);

      // delete_affinity of a group clears sy_affinity6 too, and only that group.
      const aff = `${lab.pinDir(instance)}/sy_affinity6`;
      bpftoolUpdate(aff, affKey6("fd00:10:244:2::2", 660), Buffer.alloc(16, 1));
      bpftoolUpdate(aff, affKey6("fd00:10:244:2::3", 661), Buffer.alloc(16, 1));
      await apply([{ deleteAffinity: { group: 660 } }]);
      const a = await dump("sy_affinity6");
      assert.equal(a.entries.length, 1);
      assert.ok(find(a.entries, affKey6("fd00:10:244:2::3", 661)));
      await apply([{ deleteAffinity: { group: 661 } }, { deleteBackend: { id: 641 } }, { deleteBackend: { id: 642 } }, { deleteRevnat: { id: 651 } }, { deleteRevnat: { id: 652 } }]);
    }));
});
