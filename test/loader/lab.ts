// Throwaway network namespaces, processes and pins for the loader tests.
// Nothing here touches the root network namespace: every device, address,
// route and program lives in namespaces named sy-lt-<random>-*, and
// Lab.cleanup() removes them, the processes started in them (by pid), the
// instance pin directories and the temporary directories, also after a
// failure.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./loader-client.js";

export const PIN_ROOT = "/sys/fs/bpf/switchyard";
/** The cgroup v2 hierarchy the socket tests create their cgroups in (never attached to itself). */
export const CGROUP_ROOT = "/sys/fs/cgroup/unified";
/** The loader under test; SY_LOADER_BIN overrides it (e.g. a sanitizer build). */
export const LOADER_BIN = process.env.SY_LOADER_BIN ?? path.join(repoRoot(), "loader", "build", "switchyard-loader");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, bounded in time; throws on failure unless allowFail. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeoutMs ?? 10000, cwd: os.tmpdir() });
  const res: RunResult = { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (!opts.allowFail && (r.error || r.status !== 0)) {
    throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? `exit ${r.status}`}: ${res.stderr.trim()}`);
  }
  return res;
}

/** Like run, but asynchronous so the event loop (sockets, timers) keeps going. */
export function runAsync(cmd: string, args: string[], timeoutMs = 10000): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: os.tmpdir() });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + e.message });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(stepMs);
  }
}

function canConnect(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(p);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class LoaderProcess {
  readonly logs: string[] = [];
  exitCode: number | null | undefined = undefined;
  private exitWaiters: Array<() => void> = [];

  constructor(readonly proc: ChildProcess, readonly socketPath: string) {
    let partial = "";
    proc.stderr?.on("data", (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      this.logs.push(...lines);
    });
    // "close", not "exit": stderr is fully read by then.
    proc.on("close", (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  tail(n = 40): string {
    return this.logs.slice(-n).join("\n");
  }

  waitExit(timeoutMs = 5000): Promise<number | null> {
    if (!this.running) return Promise.resolve(this.exitCode ?? null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`loader pid ${this.pid} still running after ${timeoutMs} ms`)), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.exitCode ?? null);
      });
    });
  }

  async waitReady(timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`loader exited with ${this.exitCode}:\n${this.tail()}`);
      if (await canConnect(this.socketPath)) return;
      if (Date.now() > deadline) throw new Error(`loader socket ${this.socketPath} not ready after ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code. */
  async stop(timeoutMs = 5000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.proc.kill("SIGTERM");
    try {
      return await this.waitExit(timeoutMs);
    } catch (e) {
      this.proc.kill("SIGKILL");
      await this.waitExit(2000).catch(() => undefined);
      throw e;
    }
  }
}

/** Runs fn; a failure's message gets the last log lines of the loader of that moment (loader() is read then). */
export async function withLoaderLogs(loader: () => LoaderProcess | undefined, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const l = loader();
    if (e instanceof Error && l) e.message += `\n--- loader pid ${l.pid} ---\n${l.tail(30)}`;
    throw e;
  }
}

export class Lab {
  readonly id = randomBytes(3).toString("hex");
  readonly tmp: string;
  private namespaces: string[] = [];
  private procs: ChildProcess[] = [];
  private instances: string[] = [];
  private cgroups: string[] = [];

  constructor() {
    this.tmp = mkdtempSync(path.join(os.tmpdir(), `sy-lt-${this.id}-`));
  }

  /** A fresh namespace sy-lt-<id>-<suffix> with lo up. */
  netns(suffix: string): string {
    const name = `sy-lt-${this.id}-${suffix}`;
    run("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    run("ip", ["-n", name, "link", "set", "dev", "lo", "up"]);
    return name;
  }

  /** `ip -n <ns> ...` */
  ip(ns: string, ...args: string[]): RunResult {
    return run("ip", ["-n", ns, ...args]);
  }

  /** A command inside a namespace (ip netns exec). */
  exec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): RunResult {
    return run("ip", ["netns", "exec", ns, cmd, ...args], opts);
  }

  execAsync(ns: string, cmd: string, args: string[], timeoutMs = 10000): Promise<RunResult> {
    return runAsync("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
  }

  /** A veth pair: aName in a, bName in b. */
  veth(a: string, aName: string, b: string, bName: string): void {
    run("ip", ["-n", a, "link", "add", "name", aName, "type", "veth", "peer", "name", bName, "netns", b]);
    run("ip", ["-n", a, "link", "set", "dev", aName, "up"]);
    run("ip", ["-n", b, "link", "set", "dev", bName, "up"]);
  }

  /** A long-running process inside a namespace; killed by cleanup(). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: os.tmpdir() });
    this.procs.push(p);
    return p;
  }

  /** A fresh cgroup CGROUP_ROOT/sy-lt-<id>-<suffix>; cleanup() removes it (after killing our processes). */
  cgroup(suffix: string): string {
    const dir = path.join(CGROUP_ROOT, `sy-lt-${this.id}-${suffix}`);
    mkdirSync(dir);
    this.cgroups.push(dir);
    return dir;
  }

  /**
   * A command inside a namespace, started as a member of a cgroup: the
   * shell moves itself into the cgroup, then execs `ip netns exec`.
   */
  spawnInCgroup(cgroup: string, ns: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$@"', cgroup, ns, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: os.tmpdir(),
    });
    this.procs.push(p);
    return p;
  }

  /** spawnInCgroup, to completion (bounded in time). */
  execInCgroup(cgroup: string, ns: string, cmd: string, args: string[], timeoutMs = 10000): Promise<RunResult> {
    return new Promise((resolve) => {
      const p = this.spawnInCgroup(cgroup, ns, cmd, args);
      let stdout = "";
      let stderr = "";
      p.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
      p.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
      p.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Removes one of our cgroups now (it must be empty). */
  async removeCgroup(dir: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        if (existsSync(dir)) rmdirSync(dir);
        this.cgroups = this.cgroups.filter((c) => c !== dir);
        return;
      } catch (e) {
        // EBUSY while the last member is still exiting.
        if (i >= 40) throw e;
        await sleep(50);
      }
    }
  }

  /** An instance name whose pins cleanup() removes. */
  instance(suffix: string): string {
    const name = `sy-lt-${this.id}-${suffix}`;
    this.instances.push(name);
    return name;
  }

  pinDir(instance: string): string {
    return path.join(PIN_ROOT, instance);
  }

  /**
   * Starts the loader in the namespace. nsenter --net switches only the
   * network namespace: `ip netns exec` would also remount /sys, hiding the
   * host's bpffs, and the pins would die with the process.
   */
  async startLoader(ns: string, instance: string, extra: string[] = [], socket?: string): Promise<LoaderProcess> {
    if (!existsSync(LOADER_BIN)) throw new Error(`${LOADER_BIN} missing: run make -C loader`);
    const socketPath = socket ?? path.join(this.tmp, `${instance}.sock`);
    const p = spawn(
      "nsenter",
      [`--net=/run/netns/${ns}`, LOADER_BIN, "--instance", instance, "--socket", socketPath, ...extra],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.procs.push(p);
    const lp = new LoaderProcess(p, socketPath);
    await lp.waitReady();
    return lp;
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        p.kill("SIGKILL");
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          p.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
    for (const dir of [...this.cgroups]) {
      // Only our own cgroups (sy-lt-<id>-*), never the hierarchy's root.
      if (path.dirname(dir) === CGROUP_ROOT && path.basename(dir).startsWith(`sy-lt-${this.id}-`)) {
        await this.removeCgroup(dir).catch(() => undefined);
      }
    }
    for (const ns of this.namespaces.reverse()) run("ip", ["netns", "del", ns], { allowFail: true });
    for (const inst of this.instances) {
      const dir = this.pinDir(inst);
      // Only our own instance directories (sy-lt-<id>-*), never the pin root.
      if (path.basename(dir).startsWith(`sy-lt-${this.id}-`) && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
