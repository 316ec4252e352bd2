// Network namespaces for the iptables back end's root tests. Every rule these
// tests write goes into a namespace created here (named sy-ipt-<random>) and
// every namespace is deleted afterwards, even when a test fails; nothing runs
// iptables in the caller's namespace. Addresses come from 198.18.0.0/15 and,
// for the ip6tables tests, fd00::/8.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { commandExec, type Exec, type ExecResult } from '../../control-plane/src/dataplane/iptables/runner.js';

const run = commandExec([], 30_000);

// Last resort: namespaces still listed when the process exits (a killed
// runner, an aborted hook) are deleted synchronously.
const live = new Set<string>();
process.once('exit', () => {
  for (const n of live) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

export async function sh(argv: string[], input?: string): Promise<ExecResult> {
  return run(argv, input);
}

export async function must(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** An Exec running everything inside namespace `ns`. */
export function nsExec(ns: string): Exec {
  return commandExec(['ip', 'netns', 'exec', ns], 30_000);
}

/** Why these tests cannot run here, or undefined. */
export async function rootSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  const r = await sh(['ip', 'netns', 'list']);
  if (r.code !== 0) return 'iproute2 `ip netns` is not usable';
  return undefined;
}

/** Why one iptables back end (of one family) cannot be used in a namespace here, or undefined. */
export async function backendSkipReason(backend: 'legacy' | 'nft', family: 'IPv4' | 'IPv6' = 'IPv4'): Promise<string | undefined> {
  const ns = new Namespaces('probe');
  const program = family === 'IPv6' ? 'ip6tables' : 'iptables';
  try {
    const n = await ns.add('p');
    const r = await sh(['ip', 'netns', 'exec', n, `${program}-${backend}-restore`, '--noflush'], '*nat\n:KUBE-PROBE - [0:0]\n-A KUBE-PROBE -m statistic --mode random --probability 0.5 -j RETURN\nCOMMIT\n');
    if (r.code !== 0) return `${program}-${backend} cannot program a namespace here: ${r.stderr.trim() || `exit ${r.code}`}`;
    return undefined;
  } finally {
    await ns.destroy();
  }
}

/** A set of namespaces (and processes in them) torn down together. */
export class Namespaces {
  readonly tag: string;
  readonly names: string[] = [];
  private readonly procs: ChildProcess[] = [];

  constructor(label: string) {
    this.tag = `sy-ipt-${label}-${randomBytes(3).toString('hex')}`;
  }

  async add(suffix: string): Promise<string> {
    const name = `${this.tag}-${suffix}`;
    await must(['ip', 'netns', 'add', name]);
    this.names.push(name);
    live.add(name);
    await must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Starts a long-running process inside `ns`; resolves once it printed `readyLine`. */
  async start(ns: string, argv: string[], readyLine: string, timeoutMs = 10_000): Promise<ChildProcess> {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} in ${ns}: not ready after ${timeoutMs} ms\n${err}`)), timeoutMs);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes(readyLine)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv.join(' ')} in ${ns} exited ${code}\n${err}`));
      });
    });
    return child;
  }

  /** Kills the processes started here (by their own pid) and deletes every namespace. */
  async destroy(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    for (const n of this.names.splice(0).reverse()) {
      await sh(['ip', 'netns', 'del', n]);
      live.delete(n);
    }
  }
}

const SERVER = "const n=process.argv[1];require('net').createServer(s=>{s.on('error',()=>{});s.end(n+'\\n')}).listen(8080,process.argv[2]||'0.0.0.0',()=>console.log('ready'))";

/** A UDP server on [::]:5353 answering each datagram with its name. */
const UDP6_SERVER = "const n=process.argv[1];const u=require('dgram').createSocket('udp6');u.on('message',(m,r)=>u.send(n,r.port,r.address));u.bind(5353,'::',()=>console.log('ready'))";

/** `count` datagrams, each from a fresh socket (a new flow); each answer, or "timeout". */
const UDP_CLIENT = `
const [ip, port, count, src] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4] || 0)];
const dgram = require('dgram');
const one = () => new Promise((resolve) => {
  const u = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  const t = setTimeout(() => { u.close(); resolve('timeout'); }, 2000);
  u.on('message', (m) => { clearTimeout(t); u.close(); resolve(m.toString()); });
  u.on('error', (e) => { clearTimeout(t); u.close(); resolve('error:' + e.code); });
  u.bind(src, () => u.send('hello', port, ip));
});
(async () => { const out = []; for (let i = 0; i < count; i++) out.push(await one()); console.log(JSON.stringify(out)); })();
`;

const CLIENT = `
const [ip, port, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const net = require('net');
const one = () => new Promise((resolve) => {
  let data = '';
  const s = net.connect({ host: ip, port });
  const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2000);
  s.setEncoding('utf8');
  s.on('data', (d) => (data += d));
  s.on('end', () => { clearTimeout(t); resolve(data.trim()); });
  s.on('error', (e) => { clearTimeout(t); resolve('error:' + e.code); });
});
(async () => { const out = []; for (let i = 0; i < count; i++) out.push(await one()); console.log(JSON.stringify(out)); })();
`;

/**
 *   client (198.18.1.2) ── router (198.18.1.1 | 198.18.2.1 | 198.18.3.1) ── server-a (198.18.2.2:8080)
 *                                                                        └─ server-b (198.18.3.2:8080)
 * The back end programs the router; clients reach services through it.
 * Dual-stack (`ipv6: true`): every link also gets fd00:0:0:N::/64 (client
 * fd00:0:0:1::2, router fd00:0:0:N::1, servers fd00:0:0:2::2 and
 * fd00:0:0:3::2), the servers listen on [::]:8080 (TCP, both families) and
 * [::]:5353 (UDP).
 */
export class Topology {
  readonly ns: Namespaces;
  client = '';
  router = '';
  serverA = '';
  serverB = '';

  constructor(label: string, private readonly opts: { ipv6?: boolean } = {}) {
    this.ns = new Namespaces(label);
  }

  async create(): Promise<this> {
    this.client = await this.ns.add('c');
    this.router = await this.ns.add('r');
    this.serverA = await this.ns.add('a');
    this.serverB = await this.ns.add('b');
    const link = async (left: string, lname: string, laddr: string, right: string, raddr: string, gw: string): Promise<void> => {
      await must(['ip', '-n', left, 'link', 'add', lname, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', right]);
      await must(['ip', '-n', left, 'addr', 'add', laddr, 'dev', lname]);
      await must(['ip', '-n', right, 'addr', 'add', raddr, 'dev', 'eth0']);
      await must(['ip', '-n', left, 'link', 'set', lname, 'up']);
      await must(['ip', '-n', right, 'link', 'set', 'eth0', 'up']);
      await must(['ip', '-n', right, 'route', 'add', 'default', 'via', gw]);
    };
    // IPv6 addresses without duplicate address detection, usable at once.
    const link6 = async (left: string, lname: string, net: number, right: string): Promise<void> => {
      await must(['ip', '-n', left, 'addr', 'add', `fd00:0:0:${net}::1/64`, 'dev', lname, 'nodad']);
      await must(['ip', '-n', right, 'addr', 'add', `fd00:0:0:${net}::2/64`, 'dev', 'eth0', 'nodad']);
      await must(['ip', '-n', right, '-6', 'route', 'add', 'default', 'via', `fd00:0:0:${net}::1`]);
    };
    await link(this.router, 'rc', '198.18.1.1/24', this.client, '198.18.1.2/24', '198.18.1.1');
    await link(this.router, 'ra', '198.18.2.1/24', this.serverA, '198.18.2.2/24', '198.18.2.1');
    await link(this.router, 'rb', '198.18.3.1/24', this.serverB, '198.18.3.2/24', '198.18.3.1');
    await must(['ip', 'netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const host = this.opts.ipv6 ? '::' : '0.0.0.0';
    if (this.opts.ipv6) {
      await link6(this.router, 'rc', 1, this.client);
      await link6(this.router, 'ra', 2, this.serverA);
      await link6(this.router, 'rb', 3, this.serverB);
      await must(['ip', 'netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
      // The service range is routed (as a node's default route carries it), so that a packet to a VIP
      // without endpoints reaches the filter table's REJECT instead of a routing error.
      await must(['ip', '-n', this.router, '-6', 'route', 'add', 'fd00:0:0:96::/64', 'via', 'fd00:0:0:2::2']);
      await this.ns.start(this.serverA, [process.execPath, '-e', UDP6_SERVER, 'server-a'], 'ready');
      await this.ns.start(this.serverB, [process.execPath, '-e', UDP6_SERVER, 'server-b'], 'ready');
    }
    await this.ns.start(this.serverA, [process.execPath, '-e', SERVER, 'server-a', host], 'ready');
    await this.ns.start(this.serverB, [process.execPath, '-e', SERVER, 'server-b', host], 'ready');
    return this;
  }

  /**
   * `count` UDP datagrams from the client, each from a new socket (from
   * source port `srcPort` when given: one conntrack flow); each answer (a
   * server name or "timeout").
   */
  async udp(ip: string, port: number, count: number, srcPort = 0): Promise<string[]> {
    const out = await must(['ip', 'netns', 'exec', this.client, process.execPath, '-e', UDP_CLIENT, ip, String(port), String(count), String(srcPort)]);
    return JSON.parse(out) as string[];
  }

  /** `count` sequential connections from the client; each answer (a server name, "timeout" or "error:CODE"). */
  async connect(ip: string, port: number, count: number): Promise<string[]> {
    const out = await must(['ip', 'netns', 'exec', this.client, process.execPath, '-e', CLIENT, ip, String(port), String(count)]);
    return JSON.parse(out) as string[];
  }

  destroy(): Promise<void> {
    return this.ns.destroy();
  }
}
