// A kubeconfig for a lab API server listening on plain HTTP (tests only).
import * as k8s from '@kubernetes/client-node';

export function kubeConfig(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'lab', server, skipTLSVerify: true }],
    users: [{ name: 'agent' }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'agent' }],
    currentContext: 'lab',
  });
  return kc;
}
