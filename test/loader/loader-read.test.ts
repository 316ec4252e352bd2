// The loader's read side against a real loader and real maps: paginated
// dumps (every entry comes back, however many pages), the single-key lookup
// op, and map writes served ahead of a queue of reads on another connection.
// Needs root, bpffs and a built loader (make -C loader).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { LoaderClient as AgentLoaderClient, LoaderError } from "../../control-plane/src/dataplane/ebpf/loader-client.js";
import { LoaderClient, call, encodeRequest, type Response } from "./loader-client.js";
import { Lab, type LoaderProcess, waitFor } from "./lab.js";

const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const TABLES = 150;
const M = 31;
/** Group g's table: slot s -> backend id g * 1000 + s (unique per table, so a mix-up shows). */
const tableOf = (g: number): number[] => Array.from({ length: M }, (_, s) => g * 1000 + s);

async function withLogs(l: LoaderProcess | undefined, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof Error && l) e.message += `\n--- loader pid ${l.pid} ---\n${l.tail(30)}`;
    throw e;
  }
}

describe("switchyard-loader read side: paginated dumps, lookup, write priority", { timeout: 120000 }, () => {
  let lab: Lab;
  let loader: LoaderProcess | undefined;
  let sock = "";
  let agent: AgentLoaderClient;

  before(async () => {
    lab = new Lab();
    const ns = lab.netns("r");
    // A 16 KiB message limit: 150 tables of 31 slots (~19 KiB of entries)
    // cannot come back in one message.
    // -v: the loader logs every request it serves, in the order it serves them.
    loader = await lab.startLoader(ns, lab.instance("r"), ["--max-message-bytes", "16384", "--max-services", "1024", "-v"]);
    sock = loader.socketPath;
    agent = new AgentLoaderClient(sock, 60_000);
    for (let g = 1; g <= TABLES; g += 20) {
      const ops = [];
      for (let x = g; x < g + 20 && x <= TABLES; x++) ops.push({ setMaglev: { group: x, backendIds: tableOf(x) } });
      await agent.apply(ops);
    }
  });

  after(async () => {
    agent?.close();
    await lab?.cleanup();
  });

  it("a sy_maglev dump larger than one message comes back whole, page by page", () =>
    withLogs(loader, async () => {
      const first = (await call(sock, { dump: { map: "sy_maglev" } })).dump! as NonNullable<Response["dump"]> & { more: boolean; nextCursor: Uint8Array };
      assert.equal(first.info.entries, TABLES, "the first page counts the whole map");
      assert.ok(first.entries.length < TABLES, `one page holds only part of the map (${first.entries.length})`);
      assert.equal(first.more, true, "the first page says more entries follow");
      assert.equal(Buffer.from(first.nextCursor).length, 4, "the cursor is a sy_maglev key");

      // The agent's client reads every page.
      const all = await agent.dump("sy_maglev");
      assert.equal(all.entries.length, TABLES);
      const seen = new Set<number>();
      for (const e of all.entries) {
        const g = Buffer.from(e.key).readUInt32LE(0);
        seen.add(g);
        const v = Buffer.from(e.value);
        assert.equal(v.length, M * 4, `table ${g} has M slots`);
        assert.deepEqual(Array.from({ length: M }, (_, s) => v.readUInt32LE(s * 4)), tableOf(g), `table ${g} read back intact`);
      }
      assert.equal(seen.size, TABLES, "every group exactly once");

      // A smaller page asked by the reader: more pages, the same entries.
      let cursor: Uint8Array = new Uint8Array(0);
      let pages = 0;
      const keys = new Set<number>();
      for (;;) {
        const p = await agent.dumpPage("sy_maglev", cursor, 0, 1024);
        pages++;
        for (const e of p.entries ?? []) keys.add(Buffer.from(e.key).readUInt32LE(0));
        if (!p.more) break;
        cursor = p.nextCursor;
        assert.ok(pages < 1000, "pages end");
      }
      assert.equal(keys.size, TABLES);
      assert.ok(pages >= TABLES / 8, `1 KiB pages: ${pages} pages`);
    }));

  it("a cursor of the wrong size is refused with a clear error", () =>
    withLogs(loader, async () => {
      const c = await LoaderClient.connect(sock);
      try {
        const r = await c.request({ dump: { map: "sy_maglev", cursor: Buffer.alloc(3) } });
        assert.equal(r.code, "INVALID");
        assert.match(r.error, /dump\.cursor: 3 bytes, sy_maglev has 4-byte keys/);
      } finally {
        c.destroy();
      }
    }));

  it("lookup returns the value, not-found, and clear errors for a bad map or key size", () =>
    withLogs(loader, async () => {
      const [t7, missing, t150] = await agent.lookup("sy_maglev", [u32le(7), u32le(99999), u32le(150)]);
      assert.ok(t7 && t150, "present tables found");
      assert.equal(missing, undefined, "absent group: not found");
      const v = Buffer.from(t7);
      assert.deepEqual(Array.from({ length: M }, (_, s) => v.readUInt32LE(s * 4)), tableOf(7));
      assert.equal(Buffer.from(t150).readUInt32LE(0), 150_000);

      await agent.apply([{ upsertBackend: { id: 42, addr: Buffer.from([198, 18, 5, 6]), port: 8080, proto: 6, state: 0 } }]);
      const [be, none] = await agent.lookup("sy_backends", [u32le(42), u32le(43)]);
      assert.deepEqual([...Buffer.from(be!).subarray(0, 6)], [198, 18, 5, 6, 0x1f, 0x90]);
      assert.equal(none, undefined);

      // Per-CPU map: summed over CPUs, one u64 per counter.
      const [cnt] = await agent.lookup("sy_counters", [u32le(0)]);
      assert.equal(cnt?.length, 8);

      await assert.rejects(agent.lookup("sy_nope", [u32le(1)]), (e: unknown) =>
        e instanceof LoaderError && e.code === "NOT_FOUND" && /lookup\.map: no map named 'sy_nope'/.test(e.message));
      await assert.rejects(agent.lookup("sy_backends", [Buffer.alloc(3)]), (e: unknown) =>
        e instanceof LoaderError && e.code === "INVALID" && /lookup\.keys\[0\]: 3 bytes, sy_backends has 4-byte keys/.test(e.message));
      const c = await LoaderClient.connect(sock);
      try {
        const r = await c.request({ lookup: { map: "sy_backends", keys: [] } });
        assert.equal(r.code, "INVALID");
        assert.match(r.error, /lookup\.keys: 0 keys/);
      } finally {
        c.destroy();
      }
    }));

  /**
   * The ops the loader served after log line `from`, in its order. The loader
   * is stopped (SIGSTOP) while the requests are sent, so every one of them is
   * waiting when it resumes: the order is the loader's choice alone.
   */
  const served = (from: number): string[] =>
    loader!.logs.slice(from).flatMap((l) => {
      const m = / seq \d+ (\w+): ok/.exec(l);
      return m ? [m[1]!] : [];
    });
  const allServed = (from: number, n: number): Promise<string[]> =>
    waitFor(`the loader's log of the ${n} requests`, () => (served(from).length >= n ? served(from) : undefined), 10_000);
  async function whileStopped(send: () => void): Promise<number> {
    const from = loader!.logs.length;
    process.kill(loader!.pid!, "SIGSTOP");
    try {
      // kill() returns before the loader has stopped: on a busy machine it
      // could still read the first requests. Wait until it is stopped (T).
      await waitFor("the loader stopped", () => (readFileSync(`/proc/${loader!.pid!}/stat`, "utf8").split(") ")[1]?.startsWith("T") ? true : undefined), 10_000);
      send();
      await new Promise((r) => setTimeout(r, 300)); // the bytes reach the loader's sockets
    } finally {
      process.kill(loader!.pid!, "SIGCONT");
    }
    return from;
  }

  it("a map write on its own connection is served before a queue of reads on another", () =>
    withLogs(loader, async () => {
      const reader = await LoaderClient.connect(sock);
      const writer = await LoaderClient.connect(sock);
      try {
        // Both connections accepted and served once before the race.
        assert.equal((await reader.request({ status: {} })).code, "OK");
        assert.equal((await writer.request({ status: {} })).code, "OK");
        const READS = 40;
        // 40 dumps queued on the reader, then one apply on the writer.
        const burst = Buffer.concat(Array.from({ length: READS }, (_, i) => Buffer.from(encodeRequest({ seq: 1000 + i, dump: { map: "sy_maglev" } }))));
        const from = await whileStopped(() => {
          reader.sendRaw(burst);
          writer.sendRaw(encodeRequest({ seq: 7, apply: { ops: [{ upsertBackend: { id: 77, addr: Buffer.from([198, 18, 7, 7]), port: 80, proto: 6 } }] } }));
        });
        for (let i = 0; i < READS; i++) assert.equal((await reader.next(60_000)).code, "OK");
        const w = await writer.next(60_000);
        assert.equal(w.code, "OK", w.error);
        const order = await allServed(from, READS + 1);
        const at = order.indexOf("apply");
        assert.ok(at >= 0 && at <= 1, `the apply is served in the first round, ahead of the queued reads: position ${at} (${order.join(" ")})`);
      } finally {
        reader.destroy();
        writer.destroy();
      }
    }));

  it("the agent's client sends reads on their own connection: an apply does not wait for queued dumps", () =>
    withLogs(loader, async () => {
      const client = new AgentLoaderClient(sock, 60_000);
      try {
        await client.apply([]); // both connections up before the race
        await client.dumpPage("sy_backends", new Uint8Array(0), 1);
        const pending: Array<Promise<unknown>> = [];
        const from = await whileStopped(() => {
          for (let i = 0; i < 40; i++) pending.push(client.dumpPage("sy_maglev", new Uint8Array(0)));
          pending.push(client.apply([{ upsertBackend: { id: 78, addr: Buffer.from([198, 18, 7, 8]), port: 80, proto: 6 } }]));
        });
        await Promise.all(pending);
        const order = await allServed(from, 41);
        const at = order.indexOf("apply");
        assert.ok(at >= 0 && at <= 1, `the apply is served ahead of the 40 reads queued before it: position ${at} (${order.join(" ")})`);
      } finally {
        client.close();
      }
    }));
});
