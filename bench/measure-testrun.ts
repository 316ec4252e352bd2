// Per-packet cost of the eBPF datapath through BPF_PROG_TEST_RUN on a node's
// loader (the programs the node runs, against its live maps).
//
// BPF_PROG_TEST_RUN with repeat > 1 runs the program again and again on the
// SAME buffer: after the first run a translated packet is addressed to the
// backend, so later runs would time the "not a service" path. Every
// translating path is therefore timed with single runs (repeat 1, a fresh
// copy of the packet per call, one sample each); the kernel's figure for one
// run includes its timer and bh-disable overhead (tens of ns), which the
// "non-service packet" figure (repeat > 1 on an unmodified packet, and single
// runs) lets one estimate.
//
//   tc new flow      a SYN to the VIP from a tuple never seen: frontend lookup,
//                    Maglev pick, two conntrack inserts, DNAT.
//   tc established   an ACK of a tracked flow (SYN and SYN-ACK seen): conntrack
//                    hit, DNAT.
//   reply revNAT     the backend's answer to the client: reverse NAT.
//   tc non-service   a packet to a pod address: lookups that miss, untouched.
//   XDP NodePort     SYN of new flows, and ACKs of tracked flows, to
//                    node IP:nodePort from outside, when the build has sy_xdp;
//   tc external      the same at sy_tc_external (NodePort where XDP is not attached).
//
// In a dual-stack bench every translating path is timed for the Service's
// IPv6 address too (testrun.ipv6.*), IPv4 and IPv6 alternating sample by
// sample in one loop, so that the IPv6/IPv4 ratio compares like with like.
import { LoaderClient, LoaderError } from '../control-plane/src/dataplane/ebpf/loader-client.js';
import type { Effort } from './options.js';
import { TCP_ACK, TCP_SYN, tcpFrame, tupleOf } from './packets.js';
import { ipv6Key } from './report.js';
import { summarize, unavailable, type FigureOrNot } from './stats.js';

export interface TestRunTarget {
  vip: string;
  port: number;
  backendIPs: string[];
  backendPort: number;
  nodeIP: string;
  nodePort: number | undefined;
  /** ifindex of the node's external device (XDP ingress_ifindex). */
  extIfindex: number;
  /** Its MAC: the destination of the frames sy_xdp is run on. */
  extMac: string;
  /** Dual-stack: the same Service's IPv6 VIP, the backends' and the node's IPv6 addresses. */
  v6?: { vip: string; backendIPs: string[]; nodeIP: string };
}

const XDP_VERDICTS = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'];
const TC_VERDICTS: Record<number, string> = { 0: 'OK', 2: 'SHOT', 7: 'REDIRECT', [-1]: 'UNSPEC' };

/** Distinct synthetic client tuples across the whole run (conntrack entries stay for a while). */
let flowSeq = 0;
/** A client in `net` ("198.19.200"; IPv6: fd00:198:19:200::/64, the same numbers as text). */
function nextClient(net: string, v6 = false): { src: string; sport: number } {
  const k = flowSeq++;
  const host = 1 + (k % 250);
  return { src: v6 ? `fd00:${net.split('.').join(':')}::${host.toString(16)}` : `${net}.${host}`, sport: 1024 + (Math.floor(k / 250) % 60000) };
}

class Tally {
  readonly ns: number[] = [];
  readonly verdicts = new Map<string, number>();
  bad = 0;
  add(name: string, ns: number, ok: boolean): void {
    this.verdicts.set(name, (this.verdicts.get(name) ?? 0) + 1);
    if (ok) this.ns.push(ns);
    else this.bad++;
  }
  note(extra: string): string {
    const v = [...this.verdicts].map(([k, n]) => `${k}x${n}`).join(' ');
    return `${extra}; verdicts ${v}${this.bad ? `; ${this.bad} runs that did not translate excluded` : ''}`;
  }
}

/** One address family of the measured Service: its figure keys, addresses and checks. */
interface Family {
  v6: boolean;
  /** testrun.X (IPv4) or testrun.ipv6.X */
  key: (name: string) => string;
  label: string;
  vip: string;
  nodeIP: string;
  backendIPs: string[];
  dnatOK: (data: Uint8Array) => boolean;
}

/** The families in the order of sample i: IPv4 first on even samples, IPv6 first on odd ones (drift hits both alike). */
function ordered<T>(fams: T[], i: number): T[] {
  return i % 2 === 0 ? fams : [...fams].reverse();
}

export async function measureTestRun(socket: string, t: TestRunTarget, effort: Effort): Promise<Record<string, FigureOrNot>> {
  const client = new LoaderClient(socket, 120_000);
  const out: Record<string, FigureOrNot> = {};
  const family = (v6: boolean, vip: string, nodeIP: string, backendIPs: string[]): Family => {
    const set = new Set(backendIPs);
    return {
      v6, key: (name) => (v6 ? ipv6Key(`testrun.${name}`) : `testrun.${name}`), label: v6 ? ' (IPv6)' : '', vip, nodeIP, backendIPs,
      dnatOK: (data) => {
        const o = tupleOf(data);
        return set.has(o.dst) && o.dport === t.backendPort;
      },
    };
  };
  const fams: Family[] = [family(false, t.vip, t.nodeIP, t.backendIPs)];
  if (t.v6) fams.push(family(true, t.v6.vip, t.v6.nodeIP, t.v6.backendIPs));
  const tc = (v: number): string => TC_VERDICTS[v] ?? String(v);
  const xdpV = (v: number): string => XDP_VERDICTS[v] ?? String(v);
  const samples = effort.testRunNewFlows;
  const flows = Math.max(1, effort.testRunCalls);
  const perFlow = Math.max(1, Math.ceil(samples / flows));
  const single = `single runs (repeat 1), one sample per run${fams.length > 1 ? ', IPv4 and IPv6 alternating sample by sample' : ''}`;
  const tallies = (): Map<Family, Tally> => new Map(fams.map((f) => [f, new Tally()]));
  try {
    // tc: new flows, one run each.
    const nf = tallies();
    for (let i = 0; i < samples; i++) {
      for (const fam of ordered(fams, i)) {
        const c = nextClient('198.19.200', fam.v6);
        const r = await client.testRun('tc_ingress', tcpFrame({ ...c, dst: fam.vip, dport: t.port, flags: TCP_SYN }), 1);
        nf.get(fam)!.add(tc(r.retval), Number(r.durationNs), fam.dnatOK(r.data));
      }
    }
    for (const fam of fams) {
      const x = nf.get(fam)!;
      if (x.ns.length === 0) throw new Error(`tc_ingress did not translate any SYN to ${fam.vip}:${t.port} (${x.note('')}): is the Service programmed?`);
      out[fam.key('tc_new_flow')] = summarize(`tc_ingress, first packet (SYN) of a new flow to a ClusterIP${fam.label}`, 'ns/packet', x.ns, x.ns.length, x.note(`${single}, a distinct tuple each`));
    }

    // tc: established forward packets and replies of `flows` tracked flows.
    const est = tallies();
    const rep = tallies();
    for (let f = 0; f < flows; f++) {
      const flow = new Map<Family, { reply: Uint8Array; ack: Uint8Array }>();
      for (const fam of fams) {
        const c = nextClient('198.19.201', fam.v6);
        const syn = await client.testRun('tc_ingress', tcpFrame({ ...c, dst: fam.vip, dport: t.port, flags: TCP_SYN, seq: 1000 }), 1);
        if (!fam.dnatOK(syn.data)) throw new Error(`tc_ingress did not translate the SYN of ${c.src}:${c.sport} -> ${fam.vip}:${t.port}`);
        const backend = tupleOf(syn.data).dst;
        flow.set(fam, {
          reply: tcpFrame({ src: backend, sport: t.backendPort, dst: c.src, dport: c.sport, flags: TCP_SYN | TCP_ACK, seq: 5000, ack: 1001 }),
          ack: tcpFrame({ ...c, dst: fam.vip, dport: t.port, flags: TCP_ACK, seq: 1001, ack: 5001 }),
        });
      }
      for (let i = 0; i < perFlow; i++) {
        for (const fam of ordered(fams, i)) {
          const { reply, ack } = flow.get(fam)!;
          const r2 = await client.testRun('tc_ingress', reply, 1);
          const o = tupleOf(r2.data);
          rep.get(fam)!.add(tc(r2.retval), Number(r2.durationNs), o.src === fam.vip && o.sport === t.port);
          const r1 = await client.testRun('tc_ingress', ack, 1);
          est.get(fam)!.add(tc(r1.retval), Number(r1.durationNs), fam.dnatOK(r1.data));
        }
      }
    }
    for (const fam of fams) {
      const e = est.get(fam)!, r = rep.get(fam)!;
      if (e.ns.length === 0) throw new Error(`tc_ingress did not translate established ACKs${fam.label} (${e.note('')})`);
      if (r.ns.length === 0) throw new Error(`tc_ingress did not reverse-NAT replies${fam.label} (${r.note('')})`);
      out[fam.key('tc_established')] = summarize(`tc_ingress, packet of a tracked flow (ACK) to a ClusterIP${fam.label}`, 'ns/packet', e.ns, flows, e.note(`${single}, ${flows} flows`));
      out[fam.key('tc_reply_revnat')] = summarize(`tc_ingress, reply from the backend (SYN-ACK), reverse NAT${fam.label}`, 'ns/packet', r.ns, flows, r.note(`${single}, ${flows} flows`));
    }

    // tc: a packet that is no service's (to a pod address): the miss path, and the single-run overhead.
    const other = tcpFrame({ src: '198.19.202.1', sport: 40000, dst: t.backendIPs[0]!, dport: t.backendPort, flags: TCP_ACK, seq: 1, ack: 1 });
    const passRep: number[] = [];
    for (let call = 0; call < flows; call++) passRep.push(Number((await client.testRun('tc_ingress', other, effort.testRunRepeat)).durationNs));
    const passOne: number[] = [];
    for (let i = 0; i < Math.min(samples, 500); i++) passOne.push(Number((await client.testRun('tc_ingress', other, 1)).durationNs));
    out['testrun.tc_non_service'] = summarize('tc_ingress, packet to a pod address (no service: lookups miss, packet untouched)', 'ns/packet', passRep, flows,
      `each sample: kernel average over ${effort.testRunRepeat} repetitions (the packet is not modified, so repeating is valid)`);
    out['testrun.tc_non_service_single'] = summarize('tc_ingress, the same non-service packet timed with single runs (shows the single-run timer overhead)', 'ns/packet', passOne, passOne.length, 'single runs (repeat 1), one sample per run, IPv4');

    // NodePort from outside: at sy_xdp, and at sy_tc_external (what serves it where XDP is not attached).
    for (const [prog, name, verdict] of [['xdp', 'xdp_nodeport', xdpV], ['tc_external', 'tc_external_nodeport', tc]] as const) {
      const whatNew = (fam: Family): string => `sy_${prog}, SYN of a new flow to node IP:nodePort${fam.label}`;
      const whatEst = (fam: Family): string => `sy_${prog}, packet of a tracked flow (ACK) to node IP:nodePort${fam.label}`;
      const unavailableAll = (reason: string): void => {
        for (const fam of fams) {
          out[fam.key(`${name}_new_flow`)] = unavailable(whatNew(fam), 'ns/packet', reason);
          out[fam.key(`${name}_established`)] = unavailable(whatEst(fam), 'ns/packet', reason);
        }
      };
      if (t.nodePort === undefined) {
        unavailableAll('no NodePort Service');
        continue;
      }
      const np = t.nodePort;
      let reason: string | undefined;
      try {
        await client.testRun(prog, tcpFrame({ ...nextClient('198.18.1'), dst: t.nodeIP, dport: np, flags: TCP_SYN, dmac: t.extMac }), 1, t.extIfindex);
      } catch (err) {
        if (err instanceof LoaderError && (err.code === 'UNSUPPORTED' || err.code === 'INVALID')) reason = `not available in this build (loader: ${err.message})`;
        else throw err;
      }
      if (reason) {
        unavailableAll(reason);
        continue;
      }
      const xn = tallies();
      for (let i = 0; i < samples; i++) {
        for (const fam of ordered(fams, i)) {
          const c = nextClient('198.18.1', fam.v6);
          const r = await client.testRun(prog, tcpFrame({ ...c, dst: fam.nodeIP, dport: np, flags: TCP_SYN, dmac: t.extMac }), 1, t.extIfindex);
          xn.get(fam)!.add(verdict(r.retval), Number(r.durationNs), fam.dnatOK(r.data));
        }
      }
      const xe = tallies();
      for (let f = 0; f < flows; f++) {
        const acks = new Map<Family, Uint8Array>();
        for (const fam of fams) {
          const c = nextClient('198.18.2', fam.v6);
          const syn = await client.testRun(prog, tcpFrame({ ...c, dst: fam.nodeIP, dport: np, flags: TCP_SYN, seq: 1000, dmac: t.extMac }), 1, t.extIfindex);
          if (!fam.dnatOK(syn.data)) continue;
          const b = tupleOf(syn.data);
          // The backend's SYN-ACK comes back through its pod veth (tc_ingress): the flow is then established.
          await client.testRun('tc_ingress', tcpFrame({ src: b.dst, sport: b.dport, dst: c.src, dport: c.sport, flags: TCP_SYN | TCP_ACK, seq: 5000, ack: 1001 }), 1);
          acks.set(fam, tcpFrame({ ...c, dst: fam.nodeIP, dport: np, flags: TCP_ACK, seq: 1001, ack: 5001, dmac: t.extMac }));
        }
        for (let i = 0; i < perFlow; i++) {
          for (const fam of ordered(fams, i)) {
            const ack = acks.get(fam);
            if (!ack) continue;
            const r = await client.testRun(prog, ack, 1, t.extIfindex);
            xe.get(fam)!.add(verdict(r.retval), Number(r.durationNs), fam.dnatOK(r.data));
          }
        }
      }
      for (const fam of fams) {
        const n = xn.get(fam)!, e = xe.get(fam)!;
        out[fam.key(`${name}_new_flow`)] = n.ns.length > 0
          ? summarize(whatNew(fam), 'ns/packet', n.ns, n.ns.length, n.note(`${single}, a distinct tuple each`))
          : unavailable(whatNew(fam), 'ns/packet', `sy_${prog} translated none of the SYNs (${n.note('')})${prog === 'xdp' ? ': it passed them to tc' : ''}`);
        out[fam.key(`${name}_established`)] = e.ns.length > 0
          ? summarize(whatEst(fam), 'ns/packet', e.ns, flows, e.note(`${single}, ${flows} flows`))
          : unavailable(whatEst(fam), 'ns/packet', `sy_${prog} translated no ACK of a tracked flow (${e.note('')})`);
      }
    }
  } finally {
    client.close();
  }
  return out;
}

/**
 * The loader's cost of one map write by kind (ms/op), on high group and id
 * numbers the agent does not use, removed again: a Maglev table swap (new
 * inner map + one update of the hash-of-maps outer map) against a plain hash
 * upsert. Explains where programming time goes.
 */
export async function measureLoaderOps(socket: string, ops = 20): Promise<Record<string, FigureOrNot>> {
  const client = new LoaderClient(socket, 120_000);
  try {
    const table = Array<number>(251).fill(1);
    const setMs: number[] = [];
    const delMs: number[] = [];
    const upMs: number[] = [];
    for (let i = 0; i < ops; i++) {
      const g = 65_000 + i;
      let t = performance.now();
      await client.apply([{ setMaglev: { group: g, backendIds: table } }]);
      setMs.push(performance.now() - t);
      t = performance.now();
      await client.apply([{ deleteMaglev: { group: g } }]).catch(() => undefined); // a resync may have removed it first
      delMs.push(performance.now() - t);
      t = performance.now();
      await client.apply([{ upsertRevnat: { id: 65_000 + i, addr: Uint8Array.of(198, 18, 255, i & 255), port: 80 } }]);
      upMs.push(performance.now() - t);
      await client.apply([{ deleteRevnat: { id: 65_000 + i } }]).catch(() => undefined);
    }
    return {
      'loader.set_maglev_table': summarize('loader request with one set_maglev op (new inner map, outer hash-of-maps update)', 'ms/op', setMs, ops, 'M = 251, one op per request, socket round trip included'),
      'loader.delete_maglev_table': summarize('loader request with one delete_maglev op', 'ms/op', delMs, ops, 'one op per request, socket round trip included'),
      'loader.upsert_hash_entry': summarize('loader request with one upsert_revnat op (plain hash map update)', 'ms/op', upMs, ops, 'one op per request, socket round trip included'),
    };
  } finally {
    client.close();
  }
}
