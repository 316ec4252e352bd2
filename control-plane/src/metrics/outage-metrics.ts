// Metrics of what the agent depends on and can lose: the API server
// connection (outages, silent watches restarted) and the loader the agent
// waits for before choosing a datapath. Registered on the agent's registry;
// values are read when Prometheus scrapes.
import { Gauge, type Registry } from 'prom-client';
import type { ApiServerConnectivity } from '../k8s/informers.js';

export function registerApiServerMetrics(registry: Registry, connectivity: () => ApiServerConnectivity): void {
  const r = [registry];
  new Gauge({
    name: 'switchyard_apiserver_connected', help: '1 when every informer has listed and watches (0: the API server is unreachable; the datapath keeps its last state)',
    registers: r, collect() { this.set(connectivity().connected ? 1 : 0); },
  });
  new Gauge({
    name: 'switchyard_apiserver_disconnected_seconds', help: 'How long the current API server outage has lasted (0 when connected)',
    registers: r, collect() { const s = connectivity().disconnectedSince; this.set(s === undefined ? 0 : (Date.now() - s) / 1000); },
  });
  // Counters whose value lives in the informers: gauges read at scrape time, named *_total as counters are.
  new Gauge({
    name: 'switchyard_apiserver_outages_total', help: 'API server outages seen (connected -> unreachable)',
    registers: r, collect() { this.set(connectivity().outages); },
  });
  new Gauge({
    name: 'switchyard_watch_silent_restarts_total', help: 'Watches restarted because they delivered nothing for longer than the watch silence timeout',
    registers: r, collect() { this.set(connectivity().silentWatchRestarts); },
  });
}

/** 1 while the agent waits for the loader to answer before choosing the datapath mode. */
export function registerLoaderWaitMetric(registry: Registry, waiting: () => boolean): void {
  new Gauge({
    name: 'switchyard_loader_waiting', help: '1 while the agent waits for an absent loader (it neither falls back nor cleans up meanwhile)',
    registers: [registry], collect() { this.set(waiting() ? 1 : 0); },
  });
}
