// A stand-in for the iptables programs, for unit tests of the back end: keeps
// chains (and the rules of built-in chains) per table, answers -N / -C / -I /
// -S / -D / -X, iptables-save and iptables-restore --noflush closely enough
// to follow what the back end asks, and records every call. One fake is one
// family: iptables-* (IPv4, the default) or ip6tables-* (IPv6); the other
// family's programs answer with empty tables.
import type { Exec, ExecResult } from '../../control-plane/src/dataplane/iptables/runner.js';

const BUILTIN: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};

export class FakeIptables {
  /** table → chain → rule lines ("-A CHAIN ..."). */
  readonly tables = new Map<string, Map<string, string[]>>();
  readonly calls: string[][] = [];
  readonly restores: string[] = [];
  /** Make the next restore fail at this 1-based input line. */
  failRestoreAtLine: number | undefined;
  version = 'iptables v1.8.9 (nf_tables)';
  /** Extra outputs for detection: program name → stdout. */
  saveOutputs: Record<string, string> = {};

  constructor(readonly family: 'IPv4' | 'IPv6' = 'IPv4') {
    for (const [t, chains] of Object.entries(BUILTIN)) this.tables.set(t, new Map(chains.map((c) => [c, []])));
  }

  table(t: string): Map<string, string[]> {
    let m = this.tables.get(t);
    if (!m) this.tables.set(t, (m = new Map()));
    return m;
  }

  has(t: string, chain: string): boolean {
    return this.table(t).has(chain);
  }

  deleteChain(t: string, chain: string): void {
    this.table(t).delete(chain);
  }

  readonly exec: Exec = async (argv, input) => {
    this.calls.push(argv);
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    const fail = (code: number, stderr: string): ExecResult => ({ code, stdout: '', stderr });
    const prog = argv[0]!;
    if (prog in this.saveOutputs) return ok(this.saveOutputs[prog]);
    if (prog === 'sysctl') return ok('0\n');
    if (prog === 'ip' && argv.includes('-6')) return ok('1: lo    inet6 ::1/128 scope host\n2: eth0    inet6 2001:db8::2/64 scope global\n2: eth0    inet6 fe80::1/64 scope link\n');
    if (prog === 'ip') return ok('1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 198.18.0.2/24 brd 198.18.0.255 scope global eth0\n');
    if (prog === 'nfacct') return fail(127, 'nfacct: not found');
    const mine = this.family === 'IPv6' ? 'ip6tables' : 'iptables';
    if (/^ip6?tables-(legacy|nft)-save$/.test(prog)) {
      if (!prog.startsWith(`${mine}-`)) return ok('');
      const t = argv.indexOf('-t');
      return ok(this.save(t >= 0 ? argv[t + 1] : undefined));
    }
    if (new RegExp(`^${mine}-(legacy|nft)-restore$`).test(prog)) return this.restore(input ?? '');
    if (new RegExp(`^${mine}-(legacy|nft)$`).test(prog)) {
      if (argv[1] === '--version') return ok(this.version);
      const args = argv.slice(1);
      if (args[0] === '-w') args.splice(0, 2);
      const t = args.indexOf('-t');
      const table = t >= 0 ? args[t + 1]! : 'filter';
      if (t >= 0) args.splice(t, 2);
      const [op, chain, ...rest] = args;
      const chains = this.table(table);
      switch (op) {
        case '-N':
          if (chains.has(chain!)) return fail(1, 'iptables: Chain already exists.');
          chains.set(chain!, []);
          return ok();
        case '-S':
          return chains.has(chain!) ? ok(`-N ${chain}\n`) : fail(1, 'iptables: No chain/target/match by that name.');
        case '-X':
          if (!chains.has(chain!)) return fail(1, 'no such chain');
          chains.delete(chain!);
          return ok();
        case '-C':
          return chains.get(chain!)?.includes(`-A ${chain} ${rest.join(' ')}`) ? ok() : fail(1, 'iptables: Bad rule');
        case '-I':
          chains.get(chain!)?.unshift(`-A ${chain} ${rest.join(' ')}`);
          return ok();
        case '-A':
          chains.get(chain!)?.push(`-A ${chain} ${rest.join(' ')}`);
          return ok();
        case '-D': {
          const rules = chains.get(chain!) ?? [];
          if (rest.length === 1 && /^\d+$/.test(rest[0]!)) rules.splice(Number(rest[0]) - 1, 1);
          else rules.splice(rules.indexOf(`-A ${chain} ${rest.join(' ')}`), 1);
          return ok();
        }
        default:
          return fail(2, `fake iptables: unsupported ${args.join(' ')}`);
      }
    }
    return fail(127, `${prog}: not found`);
  };

  save(only?: string): string {
    const out: string[] = [];
    for (const [t, chains] of this.tables) {
      if (only && t !== only) continue;
      out.push(`*${t}`);
      for (const c of chains.keys()) out.push(`:${c} ${BUILTIN[t]?.includes(c) ? 'ACCEPT' : '-'} [0:0]`);
      for (const rules of chains.values()) out.push(...rules);
      out.push('COMMIT');
    }
    return out.join('\n') + '\n';
  }

  private restore(input: string): ExecResult {
    this.restores.push(input);
    const lines = input.split('\n');
    if (this.failRestoreAtLine !== undefined) {
      const n = this.failRestoreAtLine;
      this.failRestoreAtLine = undefined;
      return { code: 2, stdout: '', stderr: `iptables-restore v1.8.9 (nf_tables): Couldn't load match \`foo':No such file or directory\n\nError occurred at line: ${n}\n` };
    }
    let table: Map<string, string[]> | undefined;
    lines.forEach((line) => {
      if (line.startsWith('*')) table = this.table(line.slice(1));
      else if (line.startsWith(':') && table) table.set(line.slice(1).split(' ')[0]!, []);
      else if (line.startsWith('-A ') && table) table.get(line.split(' ')[1]!)?.push(line);
      else if (line.startsWith('-X ') && table) table.delete(line.slice(3).trim());
    });
    return { code: 0, stdout: '', stderr: '' };
  }
}
