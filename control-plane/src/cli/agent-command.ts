// `switchyard agent`: informers -> trackers -> proxier -> dataplane, plus the
// health server and the device watcher. The datapath outlives the agent:
// stopping it leaves programs and maps in place.
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { parseAgentOptions, type AgentOptions } from '../config/agent-options.js';
import { extractAdminOptions, startAgentAdmin, type AgentAdminOptions } from '../admin/agent-admin.js';
import { selectMode, type ModeDecision } from '../config/mode-selection.js';
import { CONFIG_FLAGS, EbpfDataplane } from '../dataplane/ebpf/ebpf-dataplane.js';
import { LoaderClient } from '../dataplane/ebpf/loader-client.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { IptablesDataplane } from '../dataplane/iptables/iptables-dataplane.js';
import { cleanupAll } from '../dataplane/iptables/cleanup.js';
import { commandExec } from '../dataplane/iptables/runner.js';
import { DeviceWatcher, deviceMatcher, vethDevices } from '../devices/device-watcher.js';
import { healthStatus, startHealthServer } from '../health/health-server.js';
import { ServiceHealthServers, healthChecksOf } from '../health/service-health-servers.js';
import { startInformers } from '../k8s/informers.js';
import { EndpointSliceCache } from '../model/endpoint-slice-cache.js';
import { ServiceTracker } from '../model/service-tracker.js';
import { Proxier } from '../sync/proxier.js';
import { isIPv4 } from '../util/ipv4.js';
import { chooseSnatPorts, readLocalPortRange, type SnatPortChoice } from '../config/snat-ports.js';

const ZONE_LABEL = 'topology.kubernetes.io/zone';

async function waitForLoader(client: LoaderClient, log: Logger, timeoutMs: number): Promise<Awaited<ReturnType<LoaderClient['probe']>> | string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      return await client.probe();
    } catch (err) {
      last = (err as Error).message;
      log.debug({ err: last }, 'loader not ready');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return last;
}

/** ebpf mode: remove kube-proxy-style rules a previous iptables run (ours or kube-proxy's) left. */
async function removeIptablesState(log: Logger): Promise<void> {
  try {
    const reports = await cleanupAll(commandExec());
    if (reports.length > 0) log.info({ reports }, 'removed iptables rules of the iptables mode');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not check for iptables rules of the iptables mode');
  }
}

/** iptables mode: detach the BPF programs and remove the pinned maps of a previous ebpf run. */
async function removeEbpfState(loader: LoaderClient, log: Logger): Promise<void> {
  try {
    await loader.cleanup();
    log.info('removed the BPF datapath of the ebpf mode (programs detached, pins removed)');
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'no loader to clean up');
  } finally {
    loader.close();
  }
}

function nodeInternalIP(n: V1Node): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP' && isIPv4(a.address))?.address;
}

export async function runAgent(argv: string[]): Promise<number> {
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
  let decision: ModeDecision;
  try {
    if (opts.mode === 'iptables') {
      decision = selectMode('iptables', []);
    } else {
      const probe = await waitForLoader(loader, log, opts.mode === 'auto' ? 10_000 : 30_000);
      decision = typeof probe === 'string'
        ? selectMode(opts.mode, undefined, probe)
        : selectMode(opts.mode, probe.features.map((f) => ({
            ...f, available: f.available && !opts.pretendMissing.includes(f.name),
            detail: opts.pretendMissing.includes(f.name) ? 'pretended missing' : f.detail,
          })));
    }
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    loader.close();
    return 1;
  }
  log.info({ mode: decision.mode, reason: decision.reason, optionalMissing: decision.optionalMissing.map((f) => f.name) }, 'datapath mode selected');
  if (decision.mode !== 'ebpf') snat = undefined;
  if (snat) log.info({ snatPortRange: `${snat.range.min}-${snat.range.max}`, source: snat.source, ipLocalPortRange: `${snat.localPortRange.min}-${snat.localPortRange.max}` }, 'SNAT port range');

  let zone = '';
  let nodeIP = opts.nodeIP;
  let nodeSeen!: () => void;
  const nodeKnown = new Promise<void>((r) => (nodeSeen = r));
  const services = new ServiceTracker({ defaultAlgorithm: opts.lbAlgorithm });
  const endpoints = new EndpointSliceCache(opts.nodeName);
  let proxier: Proxier | undefined;
  const ebpf = decision.mode === 'ebpf'
    ? new EbpfDataplane(loader, {
        seed: opts.maglevSeed, sizing: opts.maglevSizing, nodeIP: nodeIP ?? '0.0.0.0',
        nodePortAddresses: opts.iptables.nodePortAddresses,
        ...(snat ? { snatPorts: snat.range } : {}),
      }, log)
    : undefined;
  const iptables = decision.mode === 'iptables'
    ? new IptablesDataplane({
        node: {
          nodeName: opts.nodeName,
          nodeIPs: nodeIP ? [nodeIP] : [],
          ...(opts.iptables.clusterCIDR ? { clusterCIDR: opts.iptables.clusterCIDR } : {}),
          masqueradeAll: opts.iptables.masqueradeAll,
          masqueradeBit: opts.iptables.masqueradeBit,
          nodePortAddresses: opts.iptables.nodePortAddresses,
        },
        backend: opts.iptables.backend,
        syncPeriodMs: opts.syncPeriodMs,
        onFullSyncNeeded: () => proxier?.requestSync(),
      })
    : undefined;
  const dataplane: Dataplane = (ebpf ?? iptables)!;
  proxier = new Proxier(services, endpoints, dataplane, () => ({ nodeName: opts.nodeName, zone }),
    { minSyncPeriodMs: opts.minSyncPeriodMs, syncPeriodMs: opts.syncPeriodMs }, log);
  const admin = await startAgentAdmin({
    options: adminOpts, proxier, dataplane, mode: decision, nodeName: opts.nodeName, seed: opts.maglevSeed,
    healthTimeoutMs: opts.healthTimeoutMs, clusterCIDR: opts.iptables.clusterCIDR, snat, log,
  });

  const informers = startInformers(kc, {
    service(kind, svc) {
      admin.serviceChanged(svc);
      if (kind === 'delete') services.delete(svc);
      else {
        const conv = services.update(svc);
        for (const p of conv.problems) log.warn({ service: `${svc.metadata?.namespace}/${svc.metadata?.name}` }, p);
      }
      proxier!.requestSync();
    },
    endpointSlice(kind, slice) {
      admin.endpointSliceChanged(slice);
      if (kind === 'delete') endpoints.delete(slice);
      else {
        const r = endpoints.update(slice);
        for (const p of r.problems) log.warn({ slice: `${slice.metadata?.namespace}/${slice.metadata?.name}` }, p);
      }
      proxier!.requestSync();
    },
    node(kind, n) {
      if (n.metadata?.name !== opts.nodeName || kind === 'delete') return;
      const z = n.metadata?.labels?.[ZONE_LABEL] ?? '';
      if (z !== zone) {
        zone = z;
        proxier!.requestSync();
      }
      nodeIP ??= nodeInternalIP(n);
      nodeSeen();
    },
  }, log);

  await informers.synced;
  if (!nodeIP) {
    await Promise.race([nodeKnown, new Promise((r) => setTimeout(r, 10_000))]);
  }
  if (!nodeIP) log.warn('node IP unknown (no --node-ip and no InternalIP on the Node)');
  ebpf?.setNodeIP(nodeIP ?? '0.0.0.0');
  if (ebpf && opts.xdp) {
    // XDP_TX on a veth reaches its peer only if the peer has NAPI (XDP or GRO)
    // set up; external veths (labs, containers) leave that case to tc.
    const veths = await vethDevices().catch(() => new Set<string>());
    const external = deviceMatcher(opts.devices);
    if ([...veths].some(external)) {
      ebpf.addConfigFlags(CONFIG_FLAGS.NO_XDP_TX);
      log.info('external devices are veths: XDP forwards to other devices, tc sends back out of the ingress device');
    }
  }
  if (ebpf && opts.socketLB && opts.podDevices) {
    // tc serves the pods' devices: their connected UDP sockets are left to it,
    // so a deleted backend is replaced per datagram (socket-level balancing
    // would have pointed the socket at the backend for good).
    ebpf.addConfigFlags(CONFIG_FLAGS.POD_UDP_CONNECT_TC);
  }
  iptables?.setNodeConfig({ nodeIPs: nodeIP ? [nodeIP] : [] });

  // Leave nothing of the other mode behind (switching modes across restarts).
  if (iptables) {
    await removeEbpfState(loader, log);
  } else {
    await removeIptablesState(log);
  }
  for (;;) {
    try {
      await dataplane.init();
      break;
    } catch (err) {
      log.error({ err: (err as Error).message }, 'dataplane init failed; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const devices = ebpf
    ? new DeviceWatcher(loader, { external: deviceMatcher(opts.devices), pod: deviceMatcher(opts.podDevices), xdp: opts.xdp }, log)
    : undefined;
  await devices?.start();
  if (ebpf && opts.cgroupPath) {
    // Socket-level balancing on (attach) or off (make sure nothing is left attached).
    try {
      if (opts.socketLB) {
        const r = await loader.attachSocketLB(opts.cgroupPath);
        log.info({ cgroup: opts.cgroupPath, mode: r.mode }, 'socket-level balancing attached');
      } else {
        await loader.detachSocketLB(opts.cgroupPath).catch(() => undefined);
        log.info({ cgroup: opts.cgroupPath }, 'socket-level balancing off');
      }
    } catch (err) {
      log.warn({ cgroup: opts.cgroupPath, err: (err as Error).message }, 'socket-level balancing unavailable; the tc path serves pods, host traffic to ClusterIPs needs it');
    }
  }
  proxier.start();
  const gcTimer = ebpf
    ? setInterval(() => {
        ebpf.gcConntrack().then(
          (n) => n > 0 && log.debug({ deleted: n }, 'conntrack gc'),
          (err: unknown) => log.warn({ err: (err as Error).message }, 'conntrack gc failed'),
        );
      }, 30_000)
    : undefined;
  const health = await startHealthServer(proxier, { ...opts.health, healthTimeoutMs: opts.healthTimeoutMs });
  const serviceHealth = new ServiceHealthServers(opts.health.host, () => healthStatus(proxier!, opts.healthTimeoutMs).healthy, log);
  const previousOnSync = proxier.onSync;
  proxier.onSync = (rec, pendingSince) => {
    previousOnSync?.(rec, pendingSince);
    if (rec.ok) serviceHealth.update(healthChecksOf(proxier!.desiredPorts()));
  };
  serviceHealth.update(healthChecksOf(proxier.desiredPorts()));
  log.info({ mode: dataplane.mode, health: opts.health, devices: ebpf ? opts.devices : undefined }, 'agent running');

  return await new Promise<number>((resolve) => {
    const stop = (sig: string): void => {
      log.info({ signal: sig }, 'stopping; the datapath stays in place');
      proxier!.stop();
      if (gcTimer) clearInterval(gcTimer);
      devices?.stop();
      serviceHealth.close();
      void Promise.allSettled([informers.stop(), health.close(), admin.close(), dataplane.close()]).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
