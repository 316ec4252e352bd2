#!/usr/bin/env bash
# Installs Switchyard from deploy/ through a kustomize overlay that sets what
# is specific to this cluster: the image built on the nodes, the API server's
# address, the node interface and the pod CIDR. Waits for the DaemonSet.
# SWITCHYARD_RENDER_ONLY=1 prints the rendered manifests instead of applying
# them (test/unit/deploy-vagrant.test.ts).
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${CONTROL_PLANE_IP:?}" "${POD_CIDR:?}" "${SWITCHYARD_IMAGE:?}" "${SWITCHYARD_MODE:?}"
SRC=${SWITCHYARD_SRC:-/vagrant}
OVERLAY=${SWITCHYARD_OVERLAY:-/etc/switchyard/kustomize}
export KUBECONFIG=/etc/kubernetes/admin.conf

IFACE=${SWITCHYARD_IFACE:-}
[ -n "$IFACE" ] || IFACE=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
if [ -z "$IFACE" ]; then
  echo "no interface holds ${NODE_IP}" >&2
  exit 1
fi

install -d -m 0755 "$OVERLAY"
# kustomize takes bases by relative path only.
BASE=$(realpath --relative-to="$OVERLAY" "$SRC/deploy")
cat > "$OVERLAY/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${BASE}
images:
  - name: localhost/switchyard
    newName: ${SWITCHYARD_IMAGE%:*}
    newTag: "${SWITCHYARD_IMAGE##*:}"
configMapGenerator:
  - name: switchyard-apiserver
    namespace: kube-system
    behavior: replace
    literals:
      - KUBERNETES_SERVICE_HOST=${CONTROL_PLANE_IP}
      - KUBERNETES_SERVICE_PORT=6443
patches:
  - path: config.yaml
KUST
cat > "$OVERLAY/config.yaml" <<CONFIG
apiVersion: v1
kind: ConfigMap
metadata:
  name: switchyard-config
  namespace: kube-system
data:
  config.yaml: |
    apiVersion: switchyard.io/v1alpha1
    kind: SwitchyardConfiguration
    mode: ${SWITCHYARD_MODE}
    clusterCIDR: ${POD_CIDR}
    nodePortAddresses: [primary]
    healthzBindAddress: 0.0.0.0:10256
    metricsBindAddress: 0.0.0.0:10249
    syncPeriod: 30s
    minSyncPeriod: 1s
    devices: [${IFACE}, "veth+"]
    maglev:
      seed: 0x5317c4d1
    loaderSocket: /run/switchyard/loader.sock
CONFIG

if [ "${SWITCHYARD_RENDER_ONLY:-0}" = 1 ]; then
  exec kubectl kustomize "$OVERLAY"
fi
echo "[$NODE_NAME] kubectl apply -k $OVERLAY"
kubectl apply -k "$OVERLAY"
kubectl -n kube-system rollout status daemonset/switchyard --timeout=10m
kubectl -n kube-system get pods -l k8s-app=switchyard -o wide
