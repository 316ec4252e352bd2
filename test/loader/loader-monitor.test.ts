// The datapath monitor through a real loader: a subscriber on its own
// connection gets the events the programs write to sy_events (a REJECT of a
// Service without endpoints, with its reason and frontend; a traced DNAT only
// once set_monitor turns tracing on), while other connections' requests are
// answered meanwhile; set_monitor is validated. Needs root, bpffs and a built
// loader (make -C loader).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeEvent, type DatapathEvent } from "../../control-plane/src/dataplane/ebpf/datapath-event.js";
import { LoaderEventStream } from "../../control-plane/src/dataplane/ebpf/loader-events.js";
import { LoaderClient as AgentLoaderClient, LoaderError } from "../../control-plane/src/dataplane/ebpf/loader-client.js";
import { Lab, type LoaderProcess, sleep, waitFor, withLoaderLogs } from "./lab.js";

const UDP = 17;
const ip = (s: string): Buffer => Buffer.from(s.split(".").map((x) => Number(x)));
const be16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

/** Ethernet + IPv4 + UDP with valid checksums, to lo's (all-zero) MAC as test_run wants. */
function udpPacket(src: string, dst: string, sport: number, dport: number): Buffer {
  const payload = Buffer.from("monitor");
  const eth = Buffer.concat([Buffer.alloc(6), Buffer.from([2, 0, 0, 0, 0, 1]), be16(0x0800)]);
  const udpLen = 8 + payload.length;
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + udpLen, 2);
  iph[8] = 64;
  iph[9] = UDP;
  ip(src).copy(iph, 12);
  ip(dst).copy(iph, 16);
  const csum = (buf: Buffer, init = 0): number => {
    let s = init;
    for (let i = 0; i < buf.length; i += 2) s += (buf[i]! << 8) + (i + 1 < buf.length ? buf[i + 1]! : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  iph.writeUInt16BE(~csum(iph) & 0xffff, 10);
  const udp = Buffer.concat([be16(sport), be16(dport), be16(udpLen), be16(0), payload]);
  const c = ~csum(udp, csum(Buffer.concat([ip(src), ip(dst), Buffer.from([0, UDP]), be16(udpLen)]))) & 0xffff;
  udp.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return Buffer.concat([eth, iph, udp]);
}

describe("switchyard-loader datapath monitor: ring buffer events to a subscriber", { timeout: 120000 }, () => {
  let lab: Lab;
  let loader: LoaderProcess | undefined;
  let agent: AgentLoaderClient;
  let stream: LoaderEventStream | undefined;
  const got: DatapathEvent[] = [];

  before(async () => {
    lab = new Lab();
    loader = await lab.startLoader(lab.netns("m"), lab.instance("m"), []);
    agent = new AgentLoaderClient(loader.socketPath, 60_000);
    await agent.apply([
      // 198.18.251.1:53/UDP: no endpoints (count 0) -> REJECT.
      { upsertRevnat: { id: 21, addr: ip("198.18.251.1"), port: 53 } },
      { upsertService: { key: { addr: ip("198.18.251.1"), port: 53, proto: UDP }, id: 21, group: 21, count: 0, flags: 1, tableSize: 0 } },
      // 198.18.251.2:53/UDP -> backend 22 = 198.18.3.22:5353.
      { upsertBackend: { id: 22, addr: ip("198.18.3.22"), port: 5353, proto: UDP } },
      { upsertRevnat: { id: 23, addr: ip("198.18.251.2"), port: 53 } },
      { setMaglev: { group: 23, backendIds: [22, 22, 22] } },
      { upsertService: { key: { addr: ip("198.18.251.2"), port: 53, proto: UDP }, id: 23, group: 23, count: 1, flags: 1, tableSize: 3 } },
    ]);
  });

  after(async () => {
    stream?.close();
    agent?.close();
    await lab?.cleanup();
  });

  const withLogs = (fn: () => Promise<void>): Promise<void> => withLoaderLogs(() => loader, fn);

  it("streams a REJECT event, with its reason and frontend, to the subscriber; other connections are served meanwhile", () =>
    withLogs(async () => {
      let up = false;
      stream = new LoaderEventStream({
        socketPath: loader!.socketPath,
        onBatch: (b) => {
          for (const raw of b.events) {
            const e = decodeEvent(raw);
            if (e) got.push(e);
          }
        },
        onState: (u) => (up = u),
      });
      stream.start();
      await waitFor("the subscription", () => (up ? true : undefined), 10_000);
      // Requests on another connection are answered while the stream is open.
      assert.equal((await agent.status({ skipEntryCounts: true })).instance.length > 0, true);

      const r = await agent.testRun("tc_ingress", udpPacket("198.18.1.9", "198.18.251.1", 40100, 53), 1, 1);
      assert.equal(r.retval, 7, "TC_ACT_REDIRECT: the ICMP port unreachable goes back");
      const e = await waitFor("the reject event", () => got.find((x) => x.kind === "reject" && x.sport === 40100), 10_000);
      assert.equal(e.reason, "reject_udp");
      assert.equal(e.frontendId, 21);
      assert.equal(e.src, "198.18.1.9");
      assert.equal(e.dst, "198.18.251.1");
      assert.equal(e.dport, 53);
      assert.equal(e.proto, "UDP");
    }));

  it("a translation is traced only after set_monitor turns tracing on, and only for the filter's frontend", () =>
    withLogs(async () => {
      const pkt = (sport: number) => udpPacket("198.18.1.9", "198.18.251.2", sport, 53);
      let r = await agent.testRun("tc_ingress", pkt(40200), 1, 1);
      assert.equal(r.retval, 0, "DNATed");
      await sleep(300);
      assert.equal(got.filter((x) => x.kind === "trace").length, 0, "tracing off: no trace event");

      await agent.apply([{ setMonitor: { trace: true, traceFrontendId: 23 } }]);
      r = await agent.testRun("tc_ingress", pkt(40201), 1, 1);
      assert.equal(r.retval, 0);
      const t = await waitFor("the trace event", () => got.find((x) => x.kind === "trace" && x.sport === 40201), 10_000);
      assert.equal(t.frontendId, 23);
      assert.equal(t.backendId, 22);
      assert.equal(t.natDst, "198.18.3.22");
      assert.equal(t.natDport, 5353);

      await agent.apply([{ setMonitor: { trace: true, traceFrontendId: 99 } }]);
      await agent.testRun("tc_ingress", pkt(40202), 1, 1);
      await agent.apply([{ setMonitor: {} }]);
      await agent.testRun("tc_ingress", pkt(40203), 1, 1);
      await sleep(300);
      assert.deepEqual(got.filter((x) => x.kind === "trace").map((x) => x.sport), [40201], "another frontend's filter, then tracing off: no more traces");
    }));

  it("set_monitor refuses a bad client CIDR, naming the field", () =>
    withLogs(async () => {
      await assert.rejects(agent.apply([{ setMonitor: { trace: true, clientAddr: ip("198.18.1.0"), clientPrefixLen: 33 } }]),
        (err: unknown) => err instanceof LoaderError && err.code === "INVALID" && /client_prefix_len/.test(err.message));
      await assert.rejects(agent.apply([{ setMonitor: { clientAddr: Buffer.from([1, 2, 3]) } }]),
        (err: unknown) => err instanceof LoaderError && err.code === "INVALID" && /client_addr/.test(err.message));
    }));
});
