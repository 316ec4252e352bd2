// kube-proxy's LocalTrafficDetector: which packets come from this cluster's
// pods. Its match fragments are spliced into the ClusterIP masquerade rule
// ("! -s CIDR -j KUBE-MARK-MASQ") and the eTP=Local "pod traffic" short-circuit.

export type LocalDetectorConfig =
  /** --detect-local-mode ClusterCIDR / NodeCIDR: the source address range. */
  | { mode: 'ClusterCIDR' | 'NodeCIDR'; cidr: string }
  /** --detect-local-mode BridgeInterface: packets entering from this bridge. */
  | { mode: 'BridgeInterface'; interfaceName: string }
  /** --detect-local-mode InterfaceNamePrefix: packets entering from interfaces with this prefix. */
  | { mode: 'InterfaceNamePrefix'; prefix: string }
  | { mode: 'None' };

export interface LocalTrafficDetector {
  implemented: boolean;
  /** Match args for "comes from a local pod". */
  ifLocal: string[];
  /** Match args for "does not come from a local pod". */
  ifNotLocal: string[];
}

export function localTrafficDetector(cfg: LocalDetectorConfig | undefined): LocalTrafficDetector {
  switch (cfg?.mode) {
    case 'ClusterCIDR':
    case 'NodeCIDR':
      return { implemented: true, ifLocal: ['-s', cfg.cidr], ifNotLocal: ['!', '-s', cfg.cidr] };
    case 'BridgeInterface':
      return { implemented: true, ifLocal: ['-i', cfg.interfaceName], ifNotLocal: ['!', '-i', cfg.interfaceName] };
    case 'InterfaceNamePrefix':
      return { implemented: true, ifLocal: ['-i', `${cfg.prefix}+`], ifNotLocal: ['!', '-i', `${cfg.prefix}+`] };
    default:
      return { implemented: false, ifLocal: [], ifNotLocal: [] };
  }
}
