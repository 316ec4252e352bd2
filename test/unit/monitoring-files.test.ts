// deploy/monitoring: the Grafana dashboard and the Prometheus rules parse,
// and every metric (and label) their PromQL names is one the agent exports.
// The exported names are read from the agent's own metrics code: the
// registry is built as the agent builds it (ProxyMetrics with every optional
// source, plus the outage, loader-wait and object metrics) and scraped in
// the Prometheus text format, as /metrics serves it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { DatapathView, LoaderView } from '../../control-plane/src/admin/source.js';
import { ObjectReporter } from '../../control-plane/src/model/object-report.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { registerObjectMetrics } from '../../control-plane/src/metrics/object-metrics.js';
import { registerApiServerMetrics, registerLoaderWaitMetric } from '../../control-plane/src/metrics/outage-metrics.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DASHBOARD = path.join(ROOT, 'deploy/monitoring/grafana-dashboard.json');
const RULES = path.join(ROOT, 'deploy/monitoring/prometheus-rules.yaml');

interface Exported {
  /** Metric name → type, from the "# TYPE" lines of the scrape. */
  types: Map<string, string>;
  /** Metric name → label names seen in its samples or declared. */
  labels: Map<string, Set<string>>;
}

/** Scrapes a registry built the way the agent builds its own. */
async function agentMetrics(): Promise<Exported> {
  // A loader that does not answer: the datapath metrics are still declared (and loader_up reads 0).
  const loader: LoaderView = {
    dump: () => Promise.reject(new Error('no loader')),
    lookup: () => Promise.reject(new Error('no loader')),
    status: () => Promise.reject(new Error('no loader')),
  };
  const datapath: DatapathView = {
    mapPressure: () => [{ map: 'sy_services', entries: 1, capacity: 10, ratio: 0.1, warning: false }],
    driftRepaired: 1,
    driftByMap: new Map([['sy_services', 1]]),
  };
  const m = new ProxyMetrics({
    mode: 'ebpf',
    modeReason: 'test',
    loader,
    desired: () => [],
    programmed: () => undefined,
    iptablesCounts: () => ({ filterRules: 1, natRules: 2 }),
    refused: () => new Map(),
    datapath,
  });
  registerLoaderWaitMetric(m.registry, () => false);
  registerObjectMetrics(m.registry, new ObjectReporter(new ServiceTracker({ defaultAlgorithm: 'maglev' }), new EndpointSliceCache('node-a')));
  registerApiServerMetrics(m.registry, () => ({ connected: true, disconnectedSince: undefined, lastError: undefined, outages: 0, silentWatchRestarts: 0, down: [] }));
  const text = await m.registry.metrics();
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1] as string, t[2] as string);
  }
  for (const metric of m.registry.getMetricsAsArray()) {
    const names = new Set<string>((metric as unknown as { labelNames?: string[] }).labelNames ?? []);
    labels.set((metric as unknown as { name: string }).name, names);
  }
  return { types, labels };
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names and the label names matched on each, in one PromQL expression. */
export function promqlNames(expr: string): { metrics: Set<string>; labelUse: Array<{ metric: string; label: string }> } {
  const metrics = new Set<string>();
  const labelUse: Array<{ metric: string; label: string }> = [];
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\[[^\]]*\]/g, '') // range selectors, [$__rate_interval] included
    .replace(/\$\w+/g, ''); // dashboard variables
  // name{matchers}: note the labels matched on a named metric.
  e = e.replace(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g, (_m, name: string, matchers: string) => {
    for (const mm of matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labelUse.push({ metric: name, label: mm[1] as string });
    return ` ${name} `;
  });
  e = e.replace(/\{[^}]*\}/g, ' '); // bare matchers
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const mm of e.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = mm;
    if (call) continue; // a function
    if (PROMQL_WORDS.has((word as string).toLowerCase())) continue;
    // A number's exponent or unit ("1e3", "5m") does not start with a letter here; durations are gone with the ranges.
    metrics.add(word as string);
  }
  return { metrics, labelUse };
}

/** Every PromQL expression of the dashboard (targets' expr, template queries). */
function dashboardExprs(d: any): string[] {
  const out: string[] = [];
  const walk = (panels: any[]): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push(t.expr);
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const lv = typeof q === 'string' ? /^label_values\((\w+)/.exec(q) : null;
    if (lv) out.push(lv[1] as string);
  }
  return out;
}

function ruleExprs(r: any): string[] {
  return (r.groups ?? []).flatMap((g: any) => (g.rules ?? []).map((x: any) => String(x.expr)));
}

/** The names `exprs` use that the agent does not export (histogram _bucket/_sum/_count map to their histogram). */
function unknownNames(exprs: string[], exported: Exported): string[] {
  const bad = new Set<string>();
  const base = (n: string): string | undefined => {
    if (exported.types.has(n)) return n;
    const h = /^(.*)_(bucket|sum|count)$/.exec(n);
    if (h && (exported.types.get(h[1] as string) === 'histogram' || exported.types.get(h[1] as string) === 'summary')) return h[1];
    return undefined;
  };
  const implicit = new Set(['instance', 'job', '__name__', 'le']);
  for (const expr of exprs) {
    const { metrics, labelUse } = promqlNames(expr);
    for (const m of metrics) if (!base(m)) bad.add(m);
    for (const { metric, label } of labelUse) {
      const b = base(metric);
      if (b && !implicit.has(label) && !exported.labels.get(b)?.has(label)) bad.add(`${metric}{${label}}`);
    }
  }
  return [...bad].sort();
}

describe('deploy/monitoring', () => {
  test('the dashboard and the rules parse, and use only metrics and labels the agent exports', async () => {
    const exported = await agentMetrics();
    assert.ok(exported.types.size > 20, `the scrape lists the agent's metrics (${[...exported.types.keys()].join(' ')})`);
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
    const rules = parseYaml(fs.readFileSync(RULES, 'utf8'));
    const dExprs = dashboardExprs(dashboard);
    const rExprs = ruleExprs(rules);
    assert.ok(dExprs.length >= 15, `dashboard queries: ${dExprs.length}`);
    assert.ok(rExprs.length >= 8, `alert rules: ${rExprs.length}`);
    for (const r of rules.groups.flatMap((g: any) => g.rules)) {
      assert.ok(r.alert && r.expr && r.labels?.severity && r.annotations?.summary, `rule ${JSON.stringify(r)} has alert, expr, severity and summary`);
    }
    assert.deepEqual(unknownNames(dExprs, exported), [], 'dashboard');
    assert.deepEqual(unknownNames(rExprs, exported), [], 'rules');
    // Each required topic is covered by both files.
    const used = (exprs: string[]): Set<string> => new Set(exprs.flatMap((x) => [...promqlNames(x).metrics]));
    for (const topic of [
      'kubeproxy_sync_proxy_rules_duration_seconds_bucket',
      'kubeproxy_network_programming_duration_seconds_bucket',
      'switchyard_map_pressure_ratio',
      'switchyard_datapath_events_total',
      'switchyard_services_refused',
      'switchyard_mode',
    ]) {
      assert.ok(used(dExprs).has(topic), `the dashboard shows ${topic}`);
      assert.ok(used(rExprs).has(topic), `a rule watches ${topic}`);
    }
  });

  test('a metric or label the agent does not export is reported', async () => {
    const exported = await agentMetrics();
    assert.deepEqual(unknownNames(['rate(switchyard_sync_errors_totl[5m])'], exported), ['switchyard_sync_errors_totl']);
    assert.deepEqual(unknownNames(['sum by (map) (switchyard_map_pressure_ratio{mapp="x"})'], exported), ['switchyard_map_pressure_ratio{mapp}']);
    assert.deepEqual(unknownNames(['histogram_quantile(0.9, rate(switchyard_mode_bucket[5m]))'], exported), ['switchyard_mode_bucket'], 'a gauge has no _bucket');
    // The real files, with one name changed, fail the same check.
    const text = fs.readFileSync(RULES, 'utf8').replace('switchyard_services_refused', 'switchyard_services_refused_now');
    assert.deepEqual(unknownNames(ruleExprs(parseYaml(text)), exported), ['switchyard_services_refused_now']);
  });
});
