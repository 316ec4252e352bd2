// The map-layout contract (docs/maps.md, "Layout contract"): the TypeScript
// codecs and constants come from sy-layout.generated.ts, and this test fails
// when that file differs from the BTF of the compiled object in any struct
// size, field offset, size or C type, enum member (flags, counter indices,
// lifetimes) or map key/value type, as Cilium's alignchecker does for its Go
// structs. It shows that it would: a scratch build of sy_structs.h with one
// field or constant changed is reported as drift. Needs clang and bpftool
// (present wherever `make` builds the datapath).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SY_ENUMS, SY_MAPS, SY_STRUCTS } from '../../control-plane/src/dataplane/ebpf/sy-layout.generated.js';
import { MAP_CODECS, decodeEntries, encodeKey } from '../../control-plane/src/dataplane/ebpf/map-codecs.js';
import {
  CT_FLAG_NAMES, SVC_FLAG_NAMES, counterName, ctKeyCodec, ctLifetimeSeconds, ctValueCodec, CtFlags,
} from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { structCodec } from '../../control-plane/src/dataplane/ebpf/struct-codec.js';
import { ROOT } from '../deploy/manifests.js';

interface Contract { structs: object; enums: object; maps: object }
interface Checker {
  readBtf(obj: string): unknown;
  contractFromBtf(btf: unknown): Contract;
  diffContract(want: Contract, got: Contract, parts?: string[]): string[];
}

const OBJECT = path.join(ROOT, 'bpf/build/switchyard.bpf.o');
const TS_CONTRACT: Contract = { structs: SY_STRUCTS, enums: SY_ENUMS, maps: SY_MAPS };
const MULTIARCH = (() => {
  try {
    return execFileSync('cc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  } catch {
    return execFileSync('cc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
  }
})();

let checker: Checker;
let scratch: string;

/** Compiles bpf/layout_btf.c against a copy of sy_structs.h edited by `edit`, and returns the contract its BTF holds. */
function scratchContract(name: string, edit: (header: string) => string): Contract {
  const dir = path.join(scratch, name);
  execFileSync('mkdir', ['-p', dir]);
  const header = readFileSync(path.join(ROOT, 'bpf/include/sy_structs.h'), 'utf8');
  const edited = edit(header);
  writeFileSync(path.join(dir, 'sy_structs.h'), edited);
  copyFileSync(path.join(ROOT, 'bpf/layout_btf.c'), path.join(dir, 'layout_btf.c'));
  const obj = path.join(dir, 'layout_btf.o');
  execFileSync(process.env.CLANG || 'clang', ['-O2', '-g', '-target', 'bpf', '-I', dir, '-idirafter', `/usr/include/${MULTIARCH}`,
    '-Wall', '-Werror', '-c', path.join(dir, 'layout_btf.c'), '-o', obj], { stdio: ['ignore', 'ignore', 'pipe'] });
  return checker.contractFromBtf(checker.readBtf(obj));
}

/** `re` replaced once in the header (the edit must apply: a test of nothing would pass). */
function replaceOnce(header: string, re: RegExp, by: string): string {
  assert.match(header, re, `scratch edit ${re} applies to sy_structs.h`);
  return header.replace(re, by);
}

describe('map-layout contract (BTF of the compiled object vs sy-layout.generated.ts)', () => {
  before(async () => {
    checker = await import(pathToFileURL(path.join(ROOT, 'scripts/map-layout/btf-contract.mjs')).href) as Checker;
    scratch = mkdtempSync(path.join(os.tmpdir(), 'sy-layout-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('bpf/build/switchyard.bpf.o holds exactly the TypeScript contract: structs, enums and maps', () => {
    const got = checker.contractFromBtf(checker.readBtf(OBJECT));
    assert.deepEqual(checker.diffContract(TS_CONTRACT, got), []);
    // Every struct of sy_structs.h, the Maglev slots included, and the enums the control plane reads.
    assert.ok(Object.keys(SY_STRUCTS).length >= 21, 'every map struct is in the contract');
    for (const e of ['sy_svc_flag', 'sy_ct_flag', 'sy_ct_lifetime_s', 'sy_counter', 'sy_hook', 'sy_attach_mode']) assert.ok(e in SY_ENUMS, e);
  });

  test('an unchanged scratch build of the header has no drift (the scratch build itself adds none)', () => {
    assert.deepEqual(checker.diffContract(TS_CONTRACT, scratchContract('same', (h) => h), ['structs', 'enums']), []);
  });

  test('a field moved in a scratch build is reported (two fields of sy_backend swapped: same size, the asserts pass)', () => {
    const got = scratchContract('moved', (h) => replaceOnce(h, /(\t__u8 proto;[^\n]*\n)(\t__u8 state;[^\n]*\n)/, '$2$1'));
    const drift = checker.diffContract(TS_CONTRACT, got, ['structs', 'enums']);
    assert.deepEqual(drift, [
      'sy_backend.proto: offset 6 in the TypeScript contract, 7 in the object',
      'sy_backend.state: offset 7 in the TypeScript contract, 6 in the object',
    ]);
  });

  test('a field whose type changes byte order in a scratch build is reported (sy_revnat.port __be16 -> __u16)', () => {
    const got = scratchContract('type', (h) => replaceOnce(h, /(struct sy_revnat \{[^}]*?)__be16 port;/, '$1__u16 port;'));
    assert.deepEqual(checker.diffContract(TS_CONTRACT, got, ['structs', 'enums']), [
      'sy_revnat.port: type __be16 in the TypeScript contract, __u16 in the object',
    ]);
  });

  test('a field grown in a scratch build is reported with the struct size (sy_svc_value.count __u16 -> __u32, assert adjusted)', () => {
    const got = scratchContract('grown', (h) => replaceOnce(
      replaceOnce(h, /__u16 count; /, '__u32 count; '), /SY_ASSERT_LAYOUT\(struct sy_svc_value, 20\)/, 'SY_ASSERT_LAYOUT(struct sy_svc_value, 24)'));
    const drift = checker.diffContract(TS_CONTRACT, got, ['structs', 'enums']);
    assert.ok(drift.includes('struct sy_svc_value: size 20 in the TypeScript contract, 24 in the object'), drift.join('\n'));
    assert.ok(drift.includes('sy_svc_value.count: size 2 in the TypeScript contract, 4 in the object'), drift.join('\n'));
    assert.ok(drift.includes('sy_svc_value.flags: offset 10 in the TypeScript contract, 12 in the object'), drift.join('\n'));
  });

  test('a constant changed or added in a scratch build is reported (a flag bit, a lifetime, a new counter)', () => {
    const got = scratchContract('consts', (h) => {
      let x = replaceOnce(h, /SY_SVC_F_HOST_EP = 1u << 10,/, 'SY_SVC_F_HOST_EP = 1u << 11,');
      x = replaceOnce(x, /SY_CT_LIFETIME_TCP_S = 21600,/, 'SY_CT_LIFETIME_TCP_S = 7200,');
      return replaceOnce(x, /(\tSY_CNT_MAX = 48,)/, '\tSY_CNT_NEW_EVENT = 40,\n$1');
    });
    assert.deepEqual(checker.diffContract(TS_CONTRACT, got, ['structs', 'enums']), [
      'sy_counter.SY_CNT_NEW_EVENT: in the object (40), not in the TypeScript contract',
      'sy_ct_lifetime_s.SY_CT_LIFETIME_TCP_S: 21600 in the TypeScript contract, 7200 in the object',
      'sy_svc_flag.SY_SVC_F_HOST_EP: 1024 in the TypeScript contract, 2048 in the object',
    ]);
  });

  test('each map is read with the codec of the key and value types the object declares for it', () => {
    // Ring buffers (BPF_MAP_TYPE_RINGBUF, 27) have no keys to dump: the loader streams their records.
    const keyed = Object.fromEntries(Object.entries(SY_MAPS).filter(([, m]) => (m as { type: number }).type !== 27));
    assert.deepEqual(Object.keys(MAP_CODECS).sort(), Object.keys(keyed).sort(), 'one codec pair per map of the object (ring buffers aside)');
    for (const [name, m] of Object.entries(keyed) as Array<[keyof typeof MAP_CODECS, { key: string; value?: string; inner_value_size?: number }]>) {
      const c = MAP_CODECS[name];
      assert.equal(c.key.cType, m.key, `${name} key`);
      if (m.value !== undefined) assert.equal(c.value.cType, m.value, `${name} value`);
      else assert.equal(m.inner_value_size, SY_STRUCTS.sy_maglev_slots.size, `${name}: a map of Maglev slot pairs`);
    }
  });

  test('every flag bit has a name in the admin API, and the counter names are the SY_CNT_* members', () => {
    const bits = (e: Record<string, number>) => Object.values(e).sort((a, b) => a - b);
    assert.deepEqual(SVC_FLAG_NAMES.map(([b]) => b), bits(SY_ENUMS.sy_svc_flag));
    assert.deepEqual(CT_FLAG_NAMES.map(([b]) => b), bits(SY_ENUMS.sy_ct_flag));
    for (const [k, v] of Object.entries(SY_ENUMS.sy_counter)) {
      if (k !== 'SY_CNT_MAX') assert.equal(counterName(v), k.slice('SY_CNT_'.length).toLowerCase());
    }
    assert.equal(counterName(29), 'event_29');
  });

  test('lifetimes follow sy_ct_lifetime_ns() with the contract\'s SY_CT_LIFETIME_*_S', () => {
    const l = SY_ENUMS.sy_ct_lifetime_s;
    assert.equal(ctLifetimeSeconds(17, 0), l.SY_CT_LIFETIME_OTHER_S);
    assert.equal(ctLifetimeSeconds(6, 0), l.SY_CT_LIFETIME_TCP_SYN_S);
    assert.equal(ctLifetimeSeconds(6, CtFlags.ESTABLISHED), l.SY_CT_LIFETIME_TCP_S);
    assert.equal(ctLifetimeSeconds(6, CtFlags.ESTABLISHED | CtFlags.CLOSING), l.SY_CT_LIFETIME_TCP_CLOSING_S);
  });

  test('codecs put each field at the contract\'s offset, in its byte order', () => {
    const key = { saddr: '198.18.0.1', daddr: '198.18.0.2', sport: 0x1234, dport: 80, proto: 6, dir: 1 };
    const b = ctKeyCodec.encode(key);
    const f = SY_STRUCTS.sy_ct_key.fields;
    assert.equal(b.length, SY_STRUCTS.sy_ct_key.size);
    assert.deepEqual([...b.subarray(f.saddr.offset, f.saddr.offset + 4)], [198, 18, 0, 1]);
    assert.deepEqual([...b.subarray(f.sport.offset, f.sport.offset + 2)], [0x12, 0x34], 'ports in network order');
    assert.equal(b[f.dir.offset], 1);
    assert.deepEqual(ctKeyCodec.decode(b), key);
    assert.deepEqual(encodeKey('sy_conntrack', key), b);
    const v = new Uint8Array(SY_STRUCTS.sy_ct_value.size);
    const dv = new DataView(v.buffer);
    dv.setBigUint64(SY_STRUCTS.sy_ct_value.fields.last_seen.offset, 5n, true);
    dv.setUint32(SY_STRUCTS.sy_ct_value.fields.backend_id.offset, 7, true);
    dv.setUint16(SY_STRUCTS.sy_ct_value.fields.nat_port.offset, 40000, false);
    const [e] = decodeEntries('sy_conntrack', [{ key: b, value: v }]);
    assert.deepEqual(e!.value, { ...ctValueCodec.decode(v), lastSeen: 5n, backendId: 7, natPort: 40000 });
    assert.equal(e!.value.natPort, 40000);
  });

  test('a codec that reads a field as the wrong kind, or a field the struct lacks, is refused at load', () => {
    assert.throws(() => structCodec('sy_revnat', { port: ['port', 'u16'] }), /sy_revnat\.port is __be16: it cannot be read as u16/);
    assert.throws(() => structCodec('sy_revnat', { port: ['nope' as 'port', 'be16'] }), /struct sy_revnat has no field nope/);
  });

  test('values of an older, shorter layout read the fields they lack as zero', () => {
    const short = ctValueCodec.encode({ lastSeen: 9n, backendId: 3, natAddr: '198.18.0.9', natPort: 1 }).subarray(0, 24);
    assert.equal(ctValueCodec.has(short, 'nat_port'), false);
    assert.deepEqual({ ...ctValueCodec.decode(short) }, { lastSeen: 9n, backendId: 3, revNatId: 0, tcpFlags: 0, flags: 0, natAddr: '198.18.0.9', natPort: 0 });
  });
});
