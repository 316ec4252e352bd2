// The source ports the datapath gives NodePort / ExternalIP / LoadBalancer
// flows it SNATs to the node address (remote backends, eTP=Cluster).
//
// Such a flow is the tuple {node:P <-> backend:port}; a connection the node
// opens itself to the same backend address and port from the same port P
// would be the same tuple, and its replies would be taken for the NAT flow's.
// The kernel picks the node's own ports in net.ipv4.ip_local_port_range, so
// the SNAT range must lie outside it: by default the largest stretch of ports
// outside that range, the well-known ports (< 1024) and the default NodePort
// range (30000-32767). A configured range that overlaps the local range is
// refused (the agent does not start), never silently used.
import { readFileSync } from 'node:fs';

export interface PortRange { min: number; max: number }

export interface SnatPortChoice {
  range: PortRange;
  /** 'configured' (--snat-port-range / snatPortRange) or 'default' (chosen here). */
  source: 'configured' | 'default';
  /** The node's net.ipv4.ip_local_port_range when the agent started. */
  localPortRange: PortRange;
}

export const LOCAL_PORT_RANGE_PATH = '/proc/sys/net/ipv4/ip_local_port_range';
/** Ports never used for SNAT by default: well-known ports and Kubernetes' default NodePort range. */
const DEFAULT_RESERVED: readonly PortRange[] = [{ min: 0, max: 1023 }, { min: 30000, max: 32767 }];

/** "MIN-MAX" (also "MIN MAX", as /proc prints it) -> range; throws on anything else. */
export function parsePortRange(text: string, what: string): PortRange {
  const m = /^\s*(\d{1,5})\s*[-\s]\s*(\d{1,5})\s*$/.exec(text);
  if (!m) throw new Error(`${what}: ${JSON.stringify(text)} is not a port range MIN-MAX`);
  const min = Number(m[1]), max = Number(m[2]);
  if (min < 1 || max > 65535 || min > max) throw new Error(`${what}: ${min}-${max} is not within 1-65535 with MIN <= MAX`);
  return { min, max };
}

/** The node's ephemeral port range (read in the node's network namespace, where the agent runs). */
export function readLocalPortRange(path = LOCAL_PORT_RANGE_PATH): PortRange {
  return parsePortRange(readFileSync(path, 'utf8'), path);
}

function overlaps(a: PortRange, b: PortRange): boolean {
  return a.min <= b.max && b.min <= a.max;
}

/** [1, 65535] minus the given ranges, as ordered disjoint ranges. */
function freeRanges(taken: readonly PortRange[]): PortRange[] {
  const sorted = [...taken].sort((a, b) => a.min - b.min);
  const out: PortRange[] = [];
  let next = 1;
  for (const t of sorted) {
    if (t.min > next) out.push({ min: next, max: t.min - 1 });
    next = Math.max(next, t.max + 1);
  }
  if (next <= 65535) out.push({ min: next, max: 65535 });
  return out;
}

/** Decide the SNAT range; throws when a configured range collides with the local one. */
export function chooseSnatPorts(local: PortRange, configured?: PortRange): SnatPortChoice {
  if (configured) {
    if (overlaps(configured, local)) {
      throw new Error(`--snat-port-range ${configured.min}-${configured.max} overlaps the node's net.ipv4.ip_local_port_range `
        + `${local.min}-${local.max}: the node's own connections could take the same ports as SNATed flows `
        + '(choose a range outside it, or narrow ip_local_port_range)');
    }
    return { range: configured, source: 'configured', localPortRange: local };
  }
  const free = freeRanges([local, ...DEFAULT_RESERVED]);
  // Largest stretch; on a tie the higher one.
  const best = free.reduce<PortRange | undefined>((b, r) => (!b || r.max - r.min >= b.max - b.min ? r : b), undefined);
  if (!best || best.max - best.min + 1 < 1024) {
    throw new Error(`no stretch of 1024 ports outside the node's net.ipv4.ip_local_port_range ${local.min}-${local.max} `
      + 'for SNAT: set --snat-port-range');
  }
  return { range: best, source: 'default', localPortRange: local };
}
