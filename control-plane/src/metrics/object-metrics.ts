// Metrics of the objects the agent could not program as written: field
// problems by kind and reason, and frontends lost to another Service. Read
// from the agent's model at scrape time (no loader access).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectReporter } from '../model/object-report.js';

export function registerObjectMetrics(registry: Registry, reporter: ObjectReporter): void {
  const labels = (k: string): { kind: string; reason: string } => {
    const [kind, reason] = k.split('|') as [string, string];
    return { kind, reason };
  };
  new Gauge({
    name: 'switchyard_object_problems', help: 'Problems in the API objects the agent reads now (fields skipped or read differently), by kind and reason',
    labelNames: ['kind', 'reason'], registers: [registry],
    collect() {
      this.reset();
      for (const [k, n] of reporter.currentProblems()) this.set(labels(k), n);
    },
  });
  const exported = new Map<string, number>();
  new Counter({
    name: 'switchyard_object_problems_total', help: 'Problems found in API objects since start, by kind and reason (counted when an object enters a state with the problem)',
    labelNames: ['kind', 'reason'], registers: [registry],
    collect() {
      for (const [k, n] of Object.entries(reporter.report(0).problemTotals)) {
        const d = n - (exported.get(k) ?? 0);
        if (d > 0) this.inc(labels(k), d);
        exported.set(k, n);
      }
    },
  });
  new Gauge({
    name: 'switchyard_frontend_conflicts', help: 'Frontends (address, port, protocol) a ServicePort claims but another owns or the external IP policy refuses; not programmed for it',
    registers: [registry],
    collect() {
      this.set(reporter.conflicts().length);
    },
  });
  let conflictsExported = 0;
  new Counter({
    name: 'switchyard_frontend_conflicts_total', help: 'Frontend conflicts that appeared since start',
    registers: [registry],
    collect() {
      const d = reporter.conflictTotal - conflictsExported;
      if (d > 0) this.inc(d);
      conflictsExported = reporter.conflictTotal;
    },
  });
}
