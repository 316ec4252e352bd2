#!/usr/bin/env bash
# A worker: joins the control plane with the Vagrantfile's bootstrap token.
# Switchyard's DaemonSet starts on it by itself (the image is already there).
set -euo pipefail
: "${NODE_NAME:?}" "${CONTROL_PLANE_IP:?}" "${KUBEADM_TOKEN:?}"

if [ ! -f /etc/kubernetes/kubelet.conf ]; then
  echo "[$NODE_NAME] kubeadm join ${CONTROL_PLANE_IP}:6443"
  # Throwaway test cluster: the CA is not pinned (no file is shared between
  # the VMs to carry its hash).
  kubeadm join "${CONTROL_PLANE_IP}:6443" \
    --node-name "$NODE_NAME" \
    --token "$KUBEADM_TOKEN" \
    --discovery-token-unsafe-skip-ca-verification
fi
