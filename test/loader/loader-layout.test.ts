// The layout version pinned with the maps (sy_layout): a loader that finds
// another version on the pins migrates them to fresh maps without dropping an
// established flow; the same version reuses the pins. A real mismatch: the
// pinned sy_layout is rewritten with bpftool between two loaders, and a real
// TCP connection through the tc datapath is kept open across the upgrade.
// Needs root, bpffs and a built loader (make -C loader).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { call, type MapEntry } from "./loader-client.js";
import { Lab, type LoaderProcess, run, sleep, waitFor } from "./lab.js";

const VIP = "198.18.251.1";
const CLIENT = "198.18.11.2";
const SERVER = "198.18.12.2";
const TCP = 6;
const SY_SVC_F_CLUSTERIP = 1;
const SY_LAYOUT_VERSION = 2; // bpf/include/sy_structs.h

const ip = (s: string): Buffer => Buffer.from(s.split(".").map((x) => Number(x)));
const hex = (b: Buffer): string[] => [...b].map((x) => x.toString(16).padStart(2, "0"));

// An echo server, and a client that keeps one connection open: every line it
// reads on stdin is sent, and every echo printed; "closed"/"error" on failure.
const ECHO_SERVER_JS = `
require("net").createServer((s) => { s.on("error", () => {}); s.pipe(s); })
  .listen(8080, "${SERVER}", () => console.log("ready"));
`;
const LONG_CLIENT_JS = `
const s = require("net").connect({ host: "${VIP}", port: 80 });
s.setNoDelay(true);
s.on("connect", () => console.log("connected " + s.localPort));
s.on("data", (d) => process.stdout.write("echo " + d));
s.on("error", (e) => console.log("error " + e.message));
s.on("close", () => { console.log("closed"); process.exit(0); });
require("readline").createInterface({ input: process.stdin }).on("line", (l) => s.write(l + "\\n"));
`;

function pinnedVersion(pin: string): number {
  const out = JSON.parse(run("bpftool", ["-j", "map", "lookup", "pinned", pin, "key", "hex", "00", "00", "00", "00"]).stdout) as { value: string[] };
  return Buffer.from(out.value.map((h) => parseInt(h, 16))).readUInt32LE(0);
}

function mapIds(st: { maps: Array<{ name: string; id: number }> }): Map<string, number> {
  return new Map(st.maps.map((m) => [m.name, m.id]));
}

describe("switchyard-loader map layout version", { timeout: 120000 }, () => {
  let lab: Lab;
  let cli = "";
  let rtr = "";
  let srv = "";
  let instance = "";
  let loader: LoaderProcess | undefined;
  const all: LoaderProcess[] = [];
  let out = "";
  let client: ChildProcess | undefined;

  async function withLogs(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof Error) e.message += `\nclient output:\n${out}\n` + all.map((l) => `--- loader pid ${l.pid} ---\n${l.tail(40)}`).join("\n");
      throw e;
    }
  }

  /** Sends one line on the long-lived connection and waits for its echo. */
  async function roundTrip(line: string): Promise<void> {
    client!.stdin!.write(`${line}\n`);
    await waitFor(`echo of ${line}`, () => (out.includes(`echo ${line}\n`) ? true : undefined), 5000, 20);
    assert.doesNotMatch(out, /closed|error/, "the connection is still open");
  }

  before(async () => {
    lab = new Lab();
    cli = lab.netns("c");
    rtr = lab.netns("r");
    srv = lab.netns("s");
    lab.veth(rtr, "r-cli", cli, "c0");
    lab.veth(rtr, "r-srv", srv, "s0");
    lab.ip(cli, "addr", "add", `${CLIENT}/24`, "dev", "c0");
    lab.ip(cli, "route", "add", "default", "via", "198.18.11.1");
    lab.ip(rtr, "addr", "add", "198.18.11.1/24", "dev", "r-cli");
    lab.ip(rtr, "addr", "add", "198.18.12.1/24", "dev", "r-srv");
    lab.exec(rtr, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    lab.ip(srv, "addr", "add", `${SERVER}/24`, "dev", "s0");
    lab.ip(srv, "route", "add", "default", "via", "198.18.12.1");
    const server = lab.spawnIn(srv, "node", ["-e", ECHO_SERVER_JS]);
    let srvOut = "";
    server.stdout?.on("data", (d: Buffer) => (srvOut += d.toString()));
    await waitFor("the echo server", () => (srvOut.includes("ready") ? true : undefined), 8000);
    instance = lab.instance("ly");
  });

  after(async () => {
    if (client && client.exitCode === null) client.kill("SIGKILL");
    await lab?.cleanup();
  });

  it("a fresh datapath pins sy_layout with this version; a same-layout restart reuses every map", () =>
    withLogs(async () => {
      loader = await lab.startLoader(rtr, instance);
      all.push(loader);
      const pin = `${lab.pinDir(instance)}/sy_layout`;
      assert.ok(existsSync(pin), "sy_layout pinned");
      assert.equal(pinnedVersion(pin), SY_LAYOUT_VERSION);
      const sock = loader.socketPath;
      for (const dev of ["r-cli", "r-srv"]) await call(sock, { attach: { ifname: dev, hook: "TC_INGRESS" } });
      await call(sock, {
        apply: {
          ops: [
            { setConfig: { flowHashSeed: 7, nodeAddr: ip("198.18.11.1") } },
            { upsertBackend: { id: 1, addr: ip(SERVER), port: 8080, proto: TCP } },
            { upsertRevnat: { id: 100, addr: ip(VIP), port: 80 } },
            { setMaglev: { group: 1, backendIds: [1, 1, 1, 1, 1, 1, 1] } },
            { upsertService: { key: { addr: ip(VIP), port: 80, proto: TCP }, id: 100, group: 1, count: 1, flags: SY_SVC_F_CLUSTERIP, tableSize: 7 } },
          ],
        },
      });
      // stdin piped (the lab's spawnIn ignores it); killed in after().
      client = spawn("ip", ["netns", "exec", cli, "node", "-e", LONG_CLIENT_JS], { stdio: ["pipe", "pipe", "pipe"] });
      client.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      await waitFor("the long-lived connection", () => (out.includes("connected") ? true : undefined), 8000);
      await roundTrip("before-restart");

      const st0 = (await call(sock, { status: {} })).status!;
      await loader.stop();
      loader = await lab.startLoader(rtr, instance);
      all.push(loader);
      assert.ok(loader.logs.some((l) => new RegExp(`pinned maps have layout version ${SY_LAYOUT_VERSION}: reusing them`).test(l)), loader.tail());
      const st1 = (await call(loader.socketPath, { status: {} })).status!;
      assert.deepEqual(mapIds(st1), mapIds(st0), "same layout: the very same maps");
      await roundTrip("after-same-layout-restart");
    }));

  it("another layout version on the pins: maps rebuilt and filled, links switched, the established connection survives", () =>
    withLogs(async () => {
      const sock0 = loader!.socketPath;
      const st0 = (await call(sock0, { status: {} })).status!;
      const ct0 = (await call(sock0, { dump: { map: "sy_conntrack" } })).dump!.entries;
      const port = Number(/connected (\d+)/.exec(out)![1]);
      const flowKey = (e: MapEntry) => Buffer.from(e.key).subarray(0, 4).equals(ip(CLIENT)) && Buffer.from(e.key).readUInt16BE(8) === port;
      assert.ok(ct0.some(flowKey), "the connection is tracked");
      await loader!.stop();

      // Pins written by a datapath of another layout: a real mismatch on the pinned sy_layout.
      const pin = `${lab.pinDir(instance)}/sy_layout`;
      run("bpftool", ["map", "update", "pinned", pin, "key", "hex", "00", "00", "00", "00", "value", "hex", ...hex(Buffer.from([0xe7, 0x03, 0, 0]))]);
      assert.equal(pinnedVersion(pin), 999);
      await roundTrip("while-no-loader");

      loader = await lab.startLoader(rtr, instance);
      all.push(loader);
      const logs = loader.logs.join("\n");
      assert.match(logs, new RegExp(`pinned maps have layout version 999, this datapath ${SY_LAYOUT_VERSION}: migrating them`));
      assert.match(logs, /sy_conntrack: \d+ entries copied from the old layout/);
      assert.match(logs, /links\/tc_ingress_r-cli: now runs the new sy_tc_ingress/);
      assert.match(logs, new RegExp(`layout migration to version ${SY_LAYOUT_VERSION} done`));
      assert.equal(pinnedVersion(pin), SY_LAYOUT_VERSION, "sy_layout now says this version");
      assert.ok(!existsSync(`${lab.pinDir(instance)}/old-layout`), "the old pins are gone");

      const sock = loader.socketPath;
      const st1 = (await call(sock, { status: {} })).status!;
      const before = mapIds(st0), now = mapIds(st1);
      for (const m of ["sy_services", "sy_backends", "sy_revnat", "sy_maglev", "sy_conntrack"]) {
        assert.notEqual(now.get(m), before.get(m), `${m}: a new map`);
      }
      // Entries carried over, the flow's conntrack entries included.
      const ct1 = (await call(sock, { dump: { map: "sy_conntrack" } })).dump!.entries;
      assert.ok(ct1.some(flowKey), "the connection's conntrack entry is in the new map");
      assert.equal((await call(sock, { dump: { map: "sy_services" } })).dump!.info.entries, 1);
      assert.equal((await call(sock, { dump: { map: "sy_maglev" } })).dump!.info.entries, 1);
      // The links now run programs of this loader's object, which use the new maps.
      const progs = new Set(st1.attachments.map((a) => a.progId));
      assert.equal(progs.size, 1);
      assert.ok(!st0.attachments.some((a) => progs.has(a.progId)), "sy_attach records the new program");
      const linked = JSON.parse(run("bpftool", ["-j", "link", "show", "pinned", `${lab.pinDir(instance)}/links/tc_ingress_r-cli`]).stdout) as { prog_id: number };
      assert.ok(progs.has(linked.prog_id), "the pinned link runs the new program");

      // The same TCP connection: still open, still echoing through the new datapath.
      for (let i = 0; i < 5; i++) {
        await roundTrip(`after-upgrade-${i}`);
        await sleep(50);
      }
      assert.doesNotMatch(out, /closed|error/);
    }));
});
