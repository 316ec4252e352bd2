// The iptables back end (kube-proxy's iptables mode), one concept per file.
export * from './chain-names.js';
export * from './probability.js';
export * from './local-detector.js';
export * from './node-port-addresses.js';
export * from './jump-chains.js';
export * from './render.js';
export * from './runner.js';
export * from './backend-detect.js';
export * from './canary.js';
export * from './cleanup.js';
export * from './iptables-dataplane.js';
export * from './dual-stack-dataplane.js';
