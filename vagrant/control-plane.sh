#!/usr/bin/env bash
# The control plane: kubeadm init without the kube-proxy addon (Switchyard
# replaces it), and a kubeconfig for root and the vagrant user.
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${POD_CIDR:?}" "${SERVICE_CIDR:?}" "${KUBEADM_TOKEN:?}"

if [ ! -f /etc/kubernetes/admin.conf ]; then
  echo "[$NODE_NAME] kubeadm init (no kube-proxy)"
  kubeadm init \
    --kubernetes-version "$(kubeadm version -o short)" \
    --node-name "$NODE_NAME" \
    --apiserver-advertise-address "$NODE_IP" \
    --pod-network-cidr "$POD_CIDR" \
    --service-cidr "$SERVICE_CIDR" \
    --token "$KUBEADM_TOKEN" --token-ttl 0 \
    --skip-phases addon/kube-proxy
fi
install -d -m 0700 /root/.kube
install -m 0600 /etc/kubernetes/admin.conf /root/.kube/config
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.kube
install -m 0600 -o vagrant -g vagrant /etc/kubernetes/admin.conf /home/vagrant/.kube/config

export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=5m
if kubectl -n kube-system get daemonset kube-proxy >/dev/null 2>&1; then
  echo "kube-proxy is installed: this cluster was meant to run without it" >&2
  exit 1
fi
