// `switchyard agent`: informers -> trackers -> proxier -> dataplane, plus the
// health server and the device watcher. The datapath outlives the agent:
// stopping it leaves programs and maps in place.
//
// Never taking a working datapath away: in ebpf and auto mode the agent waits
// for the loader's answer as long as it takes (loader-wait.ts); auto falls back
// to iptables only when the loader says a required feature is missing; and
// the other mode's datapath is removed only after the chosen one has been
// programmed (first successful sync).
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { chooseIPFamilies, nodeInternalIPs } from '../config/ip-families.js';
import { pino, type Logger } from 'pino';
import { parseAgentOptions, type AgentOptions } from '../config/agent-options.js';
import { extractAdminOptions, startAgentAdmin, type AgentAdmin, type AgentAdminOptions } from '../admin/agent-admin.js';
import { waitForLoaderAnswer } from '../config/loader-wait.js';
import { registerApiServerMetrics, registerLoaderWaitMetric } from '../metrics/outage-metrics.js';
import { selectMode, type ModeDecision } from '../config/mode-selection.js';
import { EbpfDataplane } from '../dataplane/ebpf/ebpf-dataplane.js';
import { LoaderClient } from '../dataplane/ebpf/loader-client.js';
import type { DatapathBackend } from '../dataplane/backend.js';
import { EbpfBackend } from '../dataplane/ebpf/ebpf-backend.js';
import { IptablesBackend } from '../dataplane/iptables/iptables-backend.js';
import { healthStatus, startHealthServer } from '../health/health-server.js';
import { ServiceHealthServers, healthChecksOf } from '../health/service-health-servers.js';
import { startInformers } from '../k8s/informers.js';
import { EndpointSliceCache } from '../model/endpoint-slice-cache.js';
import { ServiceTracker } from '../model/service-tracker.js';
import { namespacedName, serviceKeyOf } from '../model/service-key.js';
import { ObjectReporter } from '../model/object-report.js';
import { registerObjectMetrics } from '../metrics/object-metrics.js';
import { registerRestoreMetrics } from '../metrics/restore-metrics.js';
import { Proxier } from '../sync/proxier.js';
import { isIPv4 } from '../util/ipv4.js';
import { chooseSnatPorts, readLocalPortRange, type SnatPortChoice } from '../config/snat-ports.js';
import { StartupCollection } from '../util/startup-gc.js';

const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** Changes kept for the admin API's metrics while the mode is not decided (the first list of 30,000 Services x 2 is 60,000). */
const MAX_CHANGES_BEFORE_ADMIN = 100_000;

function nodeInternalIP(n: V1Node): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP' && isIPv4(a.address))?.address;
}

/**
 * This node's Node object, for choosing the IP families before the trackers
 * exist (kube-proxy's detectNodeIPs). A list (the agent's RBAC has list, not
 * get), filtered here too; undefined when the API server does not answer in time.
 */
async function readOwnNode(kc: KubeConfig, name: string, log: Logger): Promise<V1Node | undefined> {
  try {
    const core = kc.makeApiClient(CoreV1Api);
    const list = await Promise.race([
      core.listNode({ fieldSelector: `metadata.name=${name}` }),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 5 s')), 5000).unref()),
    ]);
    return list.items.find((n) => n.metadata?.name === name);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read the Node to choose the IP families; IPv4 unless --ip-families or --node-ip say otherwise');
    return undefined;
  }
}

interface LoaderWait { since: number; until?: number; lastError: string }

/**
 * The datapath mode: iptables as asked, or the loader's probe (ebpf, auto),
 * waited for as long as it takes. While the loader is awaited, the admin API
 * and metrics already answer (mode ebpf, "waiting for the loader"), so that
 * `switchyard status` says so.
 */
async function decideMode(opts: AgentOptions, adminOpts: AgentAdminOptions, log: Logger): Promise<{ decision: ModeDecision; loaderWait?: LoaderWait }> {
  if (opts.mode === 'iptables') return { decision: selectMode('iptables', []) };
  let interim: AgentAdmin | undefined;
  let waitClient: LoaderClient | undefined;
  let loaderWait: LoaderWait | undefined;
  const { probe } = await waitForLoaderAnswer(opts.loaderSocket, log, {
    onWaiting: async (err) => {
      loaderWait = { since: Date.now(), lastError: err };
      const reason = `${opts.mode}: waiting for the loader at ${opts.loaderSocket} (${err}); no fallback and no cleanup while it is absent`;
      // Its own client with a short timeout: a status request must not hang on a paused loader.
      waitClient = new LoaderClient(opts.loaderSocket, 1000);
      const dp = new EbpfDataplane(waitClient, { seed: opts.maglevSeed, sizing: opts.maglevSizing, nodeIP: '0.0.0.0' }, log);
      const idle = new Proxier(new ServiceTracker({ defaultAlgorithm: opts.lbAlgorithm }), new EndpointSliceCache(opts.nodeName), dp,
        () => ({ nodeName: opts.nodeName, zone: '' }), { minSyncPeriodMs: opts.minSyncPeriodMs, syncPeriodMs: opts.syncPeriodMs }, log);
      interim = await startAgentAdmin({
        options: { ...adminOpts, loaderWatchMs: 0 }, proxier: idle, dataplane: dp, mode: { mode: 'ebpf', reason }, nodeName: opts.nodeName,
        seed: opts.maglevSeed, healthTimeoutMs: opts.healthTimeoutMs, clusterCIDR: opts.iptables.clusterCIDR, log,
        dependencies: () => ({ loaderWait: { waiting: true, since: new Date(loaderWait!.since).toISOString(), lastError: loaderWait!.lastError } }),
      }).catch((e: unknown) => {
        log.warn({ err: (e as Error).message }, 'admin API unavailable while waiting for the loader');
        return undefined;
      });
      if (interim) registerLoaderWaitMetric(interim.metrics.registry, () => true);
    },
  });
  if (loaderWait) loaderWait.until = Date.now();
  await interim?.close();
  waitClient?.close();
  const decision = selectMode(opts.mode, probe.features.map((f) => ({
    ...f, available: f.available && !opts.pretendMissing.includes(f.name),
    detail: opts.pretendMissing.includes(f.name) ? 'pretended missing' : f.detail,
  })));
  return { decision, ...(loaderWait ? { loaderWait } : {}) };
}

export async function runAgent(argv: string[]): Promise<number> {
  // Where the start goes, in ms since the process started (performance.now()'s
  // origin): logged with "agent running".
  const startupMs: Record<string, number> = {};
  const mark = (phase: string): void => {
    startupMs[phase] = Math.round(performance.now());
  };
  mark('main');
  let opts: AgentOptions;
  let adminOpts: AgentAdminOptions;
  try {
    const { admin, rest } = extractAdminOptions(argv);
    adminOpts = admin;
    opts = parseAgentOptions(rest);
  } catch (err) {
    process.stderr.write(`switchyard agent: ${(err as Error).message}\n`);
    return 2;
  }
  const log = pino({ level: opts.logLevel, base: { node: opts.nodeName } });
  for (const field of opts.configIgnored) log.warn({ field }, 'configuration field accepted but without effect in this build');

  // SNAT ports outside the node's own ephemeral ports (read here, in the
  // node's netns). A configured range that collides is a configuration error.
  let snat: SnatPortChoice | undefined;
  if (opts.mode !== 'iptables') {
    try {
      snat = chooseSnatPorts(readLocalPortRange(), opts.snatPortRange);
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'cannot start');
      return 1;
    }
  } else if (opts.snatPortRange) {
    log.warn('--snat-port-range has no effect in iptables mode (the kernel\'s MASQUERADE picks ports)');
  }

  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromCluster();

  const loader = new LoaderClient(opts.loaderSocket);
  // The mode waits for the loader's answer (in ebpf mode a loader that has
  // just started verifies its programs first, ~1.3 s of CPU); the informers
  // do not depend on the mode and list meanwhile. Only the back end, the
  // proxier and the admin API wait for the mode.
  const modeDecided = decideMode(opts, adminOpts, log).then(
    (d) => ({ ok: true as const, ...d }),
    (err: unknown) => ({ ok: false as const, err: err as Error }),
  );

  let zone = '';
  let nodeIP = opts.nodeIP;
  let nodeSeen!: () => void;
  const nodeKnown = new Promise<void>((r) => (nodeSeen = r));
  // The families this node programs, decided once at start as kube-proxy does.
  const needNode = !opts.ipFamilies?.length && !opts.nodeIP && !opts.nodeIP6;
  const ownNode = needNode ? await readOwnNode(kc, opts.nodeName, log) : undefined;
  const familyChoice = chooseIPFamilies(opts, ownNode);
  const ipFamilies = familyChoice.families;
  let nodeIP6 = ipFamilies.includes('IPv6') ? opts.nodeIP6 ?? nodeInternalIPs(ownNode).IPv6 : undefined;
  log.info({ ipFamilies, source: familyChoice.source, ...(nodeIP6 ? { nodeIP6 } : {}) }, 'IP families');
  const services = new ServiceTracker({ defaultAlgorithm: opts.lbAlgorithm, maglevSizing: opts.maglevSizing, externalIPPolicy: opts.externalIPPolicy, ipFamilies });
  const endpoints = new EndpointSliceCache(opts.nodeName, { ipFamilies });
  const objectReporter = new ObjectReporter(services, endpoints);
  let proxier: Proxier | undefined;
  let admin: AgentAdmin | undefined;
  // Changes seen before the admin API exists, for its programming-latency
  // metrics (each carries its trigger time): handed over when it starts.
  // Bounded: an agent that waits long for its loader lets the rest go (their
  // latency would only say how long it waited).
  let changesBeforeAdmin: Array<(a: AgentAdmin) => void> | undefined = [];
  const noteChange = (note: (a: AgentAdmin) => void): void => {
    if (admin) note(admin);
    else if (changesBeforeAdmin && changesBeforeAdmin.length < MAX_CHANGES_BEFORE_ADMIN) changesBeforeAdmin.push(note);
  };
  let dataplaneReady = false;
  let backend: DatapathBackend | undefined;
  const applyLateNodeIP = (ip: string): void => {
    log.info({ nodeIP: ip }, 'node IP learned from the Node object; programming NodePorts on it');
    void backend!.applyLateNodeIP(ip).then(() => proxier!.requestSync(true));
  };

  mark('informersStarted');
  const informers = startInformers(kc, {
    service(kind, svc) {
      noteChange((a) => a.serviceChanged(svc));
      if (kind === 'delete') services.delete(svc);
      else {
        const conv = services.update(svc);
        for (const p of conv.problems) log.warn({ service: serviceKeyOf(svc.metadata), field: p.field, reason: p.reason }, p.message);
      }
      proxier?.requestSync();
    },
    endpointSlice(kind, slice) {
      noteChange((a) => a.endpointSliceChanged(slice));
      if (kind === 'delete') endpoints.delete(slice);
      else {
        const r = endpoints.update(slice);
        for (const p of r.problems) log.warn({ slice: namespacedName(slice.metadata), field: p.field, reason: p.reason }, p.message);
      }
      proxier?.requestSync();
    },
    node(kind, n) {
      if (n.metadata?.name !== opts.nodeName || kind === 'delete') return;
      const z = n.metadata?.labels?.[ZONE_LABEL] ?? '';
      if (z !== zone) {
        zone = z;
        proxier?.requestSync();
      }
      const ip = nodeInternalIP(n);
      if (!nodeIP && ip) {
        nodeIP = ip;
        // The Node got its InternalIP after the agent started: NodePorts (and
        // the SNAT address) follow as soon as the datapath is set up.
        if (dataplaneReady) applyLateNodeIP(ip);
      }
      const ip6 = ipFamilies.includes('IPv6') ? nodeInternalIPs(n).IPv6 : undefined;
      if (!nodeIP6 && ip6) {
        nodeIP6 = ip6;
        if (dataplaneReady && backend?.applyLateNodeIP6) {
          log.info({ nodeIP6: ip6 }, 'node IPv6 address learned from the Node object; programming IPv6 NodePorts on it');
          void backend.applyLateNodeIP6(ip6).then(() => proxier!.requestSync(true));
        }
      }
      nodeSeen();
    },
  }, log, { watchSilenceMs: opts.watchSilenceTimeoutMs, nodeName: opts.nodeName });

  const decided = await modeDecided;
  if (!decided.ok) {
    log.fatal({ err: decided.err.message }, 'cannot start');
    loader.close();
    await informers.stop();
    return 1;
  }
  const { decision, loaderWait } = decided;
  mark('modeSelected');
  log.info({ mode: decision.mode, reason: decision.reason, optionalMissing: decision.optionalMissing.map((f) => f.name) }, 'datapath mode selected');
  if (decision.mode !== 'ebpf') snat = undefined;
  if (snat) log.info({ snatPortRange: `${snat.range.min}-${snat.range.max}`, source: snat.source, ipLocalPortRange: `${snat.localPortRange.min}-${snat.localPortRange.max}` }, 'SNAT port range');

  // The one place the mode is asked: everything below talks to the back end.
  backend = decision.mode === 'ebpf'
    ? new EbpfBackend(loader, opts, snat, log)
    : new IptablesBackend(loader, opts, () => proxier?.requestSync(), log, ipFamilies);
  const dataplane = backend.dataplane;
  proxier = new Proxier(services, endpoints, dataplane, () => ({ nodeName: opts.nodeName, zone }),
    { minSyncPeriodMs: opts.minSyncPeriodMs, syncPeriodMs: opts.syncPeriodMs, ipFamilies }, log);
  admin = await startAgentAdmin({
    options: adminOpts, proxier, dataplane, mode: decision, nodeName: opts.nodeName, seed: opts.maglevSeed, maglevSizing: opts.maglevSizing,
    healthTimeoutMs: opts.healthTimeoutMs, clusterCIDR: opts.iptables.clusterCIDR, clusterCIDR6: opts.iptables.clusterCIDR6, snat, log,
    loaderSocket: opts.loaderSocket,
    objects: () => objectReporter.report(),
    dependencies: () => {
      const c = informers.connectivity();
      return {
        ...(c ? { apiServer: { ...c, disconnectedSince: c.disconnectedSince === undefined ? null : new Date(c.disconnectedSince).toISOString() } } : {}),
        ...(loaderWait ? { loaderWait: { waiting: false, since: new Date(loaderWait.since).toISOString(), waitedMs: (loaderWait.until ?? Date.now()) - loaderWait.since } } : {}),
      };
    },
  });
  for (const note of changesBeforeAdmin) note(admin);
  changesBeforeAdmin = undefined;
  registerLoaderWaitMetric(admin.metrics.registry, () => false);
  registerObjectMetrics(admin.metrics.registry, objectReporter);
  if (backend instanceof IptablesBackend) registerRestoreMetrics(admin.metrics.registry, () => (backend as IptablesBackend).dataplanes.values());

  mark('adminStarted');
  registerApiServerMetrics(admin.metrics.registry, () => informers.connectivity());

  const addressMissing = (): boolean => (ipFamilies.includes('IPv4') && !nodeIP) || (ipFamilies.includes('IPv6') && !nodeIP6);
  // With every node address known already, the datapath starts (loader
  // config, maps read back, devices attached) while the informers list: the
  // two wait on different servers. Otherwise the Node object may still bring
  // an address, and the datapath starts once it did (or 10 s passed).
  const startBackend = (): Promise<unknown> => {
    backend.setNodeIP(nodeIP);
    if (nodeIP6) backend.setNodeIP6?.(nodeIP6);
    return backend.start().then(() => undefined, (err: unknown) => err ?? new Error('datapath start failed'));
  };
  const early = addressMissing() ? undefined : startBackend();
  await informers.synced;
  mark('informersListed');
  if (!early && addressMissing()) {
    await Promise.race([nodeKnown, new Promise((r) => setTimeout(r, 10_000))]);
  }
  if (!nodeIP && ipFamilies.includes('IPv4')) log.warn('node IP unknown (no --node-ip and no InternalIP on the Node)');
  if (!nodeIP6 && ipFamilies.includes('IPv6')) log.warn('node IPv6 address unknown (no IPv6 --node-ip and no IPv6 InternalIP on the Node): no IPv6 NodePorts, no IPv6 SNAT');
  const appliedNodeIP = nodeIP;
  const startError = await (early ?? startBackend());
  if (startError) throw startError;
  mark('datapathStarted');
  dataplaneReady = true;
  if (nodeIP && nodeIP !== appliedNodeIP) applyLateNodeIP(nodeIP);
  proxier.start();
  const health = await startHealthServer(proxier, { ...opts.health, healthTimeoutMs: opts.healthTimeoutMs });
  const serviceHealth = new ServiceHealthServers(opts.health.host, () => healthStatus(proxier!, opts.healthTimeoutMs).healthy, log);
  const startupCollection = new StartupCollection(log);
  proxier.addSyncListener((rec) => {
    if (rec.ok) {
      serviceHealth.update(healthChecksOf(proxier!.desiredPorts()));
      startupCollection.afterSync();
    }
    objectReporter.logConflicts(log);
    // Leave nothing of the other mode behind (switching modes across
    // restarts), but only once this mode's datapath is programmed: until then
    // the old one keeps serving.
    if (rec.ok) backend.removeOtherMode();
  });
  if (proxier.syncCount > 0) {
    backend.removeOtherMode();
    startupCollection.afterSync();
  }
  serviceHealth.update(healthChecksOf(proxier.desiredPorts()));
  mark('running');
  log.info({ mode: dataplane.mode, health: opts.health, ...backend.describe(), startupMs }, 'agent running');

  return await new Promise<number>((resolve) => {
    const stop = (sig: string): void => {
      log.info({ signal: sig }, 'stopping; the datapath stays in place');
      proxier!.stop();
      serviceHealth.close();
      void Promise.allSettled([informers.stop(), health.close(), admin.close(), backend.stop()]).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
