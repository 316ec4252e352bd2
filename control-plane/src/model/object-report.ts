// The agent's account of what it did not program as written: object and
// field problems (model/object-problems.ts) and frontends lost to another
// Service (model/frontend-claims.ts). One source for `switchyard status`,
// the metrics and the log.
import type { Logger } from 'pino';
import type { EndpointSliceCache } from './endpoint-slice-cache.js';
import { describeLostFrontend, type FrontendConflict } from './frontend-claims.js';
import type { ObjectProblemsEntry } from './object-problems.js';
import type { ServiceTracker } from './service-tracker.js';

export interface ObjectReport {
  /** Objects with problems now (at most `limit`, sorted by kind and name). */
  objectsWithProblems: number;
  problems: ObjectProblemsEntry[];
  /** Frontends some ServicePort claims but another owns (or the policy refuses). */
  conflicts: FrontendConflict[];
  /** "kind|reason" -> problems seen since start. */
  problemTotals: Record<string, number>;
  conflictTotal: number;
}

export class ObjectReporter {
  private known = new Set<string>();
  /** Conflicts that appeared since start. */
  conflictTotal = 0;

  constructor(private readonly services: ServiceTracker, private readonly endpoints: EndpointSliceCache) {}

  conflicts(): FrontendConflict[] {
    return this.services.conflicts();
  }

  report(limit = 500): ObjectReport {
    const problems = [...this.services.problems.entries(), ...this.endpoints.problems.entries()];
    const totals: Record<string, number> = {};
    for (const t of [this.services.problems.totals, this.endpoints.problems.totals]) for (const [k, v] of t) totals[k] = v;
    return {
      objectsWithProblems: problems.length,
      problems: problems.slice(0, limit),
      conflicts: this.conflicts(),
      problemTotals: totals,
      conflictTotal: this.conflictTotal,
    };
  }

  /** Problems now per "kind|reason", both kinds. */
  currentProblems(): Map<string, number> {
    return new Map([...this.services.problems.current(), ...this.endpoints.problems.current()]);
  }

  /** Call after each sync: logs each conflict once when it appears and when it is gone. */
  logConflicts(log: Logger): void {
    const now = new Map<string, FrontendConflict>();
    for (const c of this.conflicts()) now.set(`${c.loser}|${c.kind}|${c.addr}:${c.port}/${c.protocol}`, c);
    for (const [k, c] of now) {
      if (this.known.has(k)) continue;
      this.conflictTotal++;
      log.warn({ servicePort: c.loser, winner: c.winner || undefined, frontend: `${c.addr}:${c.port}/${c.protocol}`, kind: c.kind }, describeLostFrontend(c));
    }
    for (const k of this.known) if (!now.has(k)) log.info({ conflict: k }, 'frontend conflict resolved');
    this.known = new Set(now.keys());
  }
}
