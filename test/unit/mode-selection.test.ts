import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectMode } from '../../control-plane/src/config/mode-selection.js';

const f = (name: string, available = true) => ({ name, available, detail: available ? 'ok' : 'absent' });
const FULL = [
  f('prog_type:sched_cls'), f('prog_type:xdp'), f('map_type:hash'), f('map_type:lru_hash'), f('map_type:array'),
  f('map_type:hash_of_maps'), f('helper:sched_cls:bpf_l4_csum_replace'), f('attach:tcx'), f('attach:clsact'), f('fs:bpffs'),
];

test('auto picks ebpf when every required feature is there, whatever optional ones lack', () => {
  const d = selectMode('auto', [...FULL, f('program:sy_xdp', false), f('attach:xdp_link', false)]);
  assert.equal(d.mode, 'ebpf');
  assert.deepEqual(d.optionalMissing.map((x) => x.name), ['program:sy_xdp', 'attach:xdp_link']);
});

test('auto falls back to iptables and names the missing feature', () => {
  const d = selectMode('auto', FULL.map((x) => (x.name === 'map_type:lru_hash' ? f(x.name, false) : x)));
  assert.equal(d.mode, 'iptables');
  assert.match(d.reason, /map_type:lru_hash/);
});

test('tc attach needs tcx or clsact, not both', () => {
  assert.equal(selectMode('auto', FULL.map((x) => (x.name === 'attach:tcx' ? f(x.name, false) : x))).mode, 'ebpf');
  const none = FULL.map((x) => (x.name.startsWith('attach:') ? f(x.name, false) : x));
  assert.equal(selectMode('auto', none).mode, 'iptables');
});

test('ebpf mode refuses to start without a required feature, naming it', () => {
  assert.throws(() => selectMode('ebpf', FULL.map((x) => (x.name === 'fs:bpffs' ? f(x.name, false) : x))), /fs:bpffs/);
  assert.throws(() => selectMode('ebpf', undefined, 'connect ENOENT'), /could not probe/);
});

test('iptables mode is taken as asked', () => {
  assert.equal(selectMode('iptables', FULL).mode, 'iptables');
});
