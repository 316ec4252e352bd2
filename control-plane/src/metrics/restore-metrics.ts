// Metrics of the iptables commands the iptables mode runs: there is no fixed
// timeout, so a long restore shows here (and in the log) while it runs.
import { Gauge, type Registry } from 'prom-client';
import type { IptablesDataplane } from '../dataplane/iptables/iptables-dataplane.js';

export function registerRestoreMetrics(registry: Registry, dataplanes: () => Iterable<IptablesDataplane>): void {
  const r = [registry];
  new Gauge({
    name: 'switchyard_iptables_command_running_seconds', help: 'How long the iptables command running now (iptables-restore above all) has run, at its last look (0: none running)',
    labelNames: ['family'], registers: r,
    collect() {
      for (const dp of dataplanes()) this.set({ family: dp.family }, dp.running ? dp.running.elapsedMs / 1000 : 0);
    },
  });
  new Gauge({
    name: 'switchyard_iptables_command_running_reports_total', help: 'Looks (every 5 s) at iptables commands still running: each is a report of a slow command',
    labelNames: ['family'], registers: r,
    collect() {
      for (const dp of dataplanes()) this.set({ family: dp.family }, dp.runningReports);
    },
  });
}
