#!/usr/bin/env bash
# Builds the Switchyard image on this node from the repository's Dockerfile
# (with buildah: no Docker daemon on a Kubernetes node) and imports it into
# containerd's k8s.io namespace, where the kubelet finds it
# (imagePullPolicy: IfNotPresent). Run again after changing the sources, then
# `kubectl -n kube-system rollout restart daemonset/switchyard`.
set -euo pipefail
: "${NODE_NAME:?}" "${SWITCHYARD_IMAGE:?}"
SRC=${SWITCHYARD_SRC:-/vagrant}
ARCHIVE=/var/tmp/switchyard-image.tar

echo "[$NODE_NAME] building $SWITCHYARD_IMAGE from $SRC/Dockerfile"
buildah build --layers --network host -f "$SRC/Dockerfile" -t "$SWITCHYARD_IMAGE" "$SRC"
rm -f "$ARCHIVE"
buildah push "$SWITCHYARD_IMAGE" "docker-archive:${ARCHIVE}:${SWITCHYARD_IMAGE}"
ctr -n k8s.io images import "$ARCHIVE" >/dev/null
rm -f "$ARCHIVE"
ctr -n k8s.io images ls -q | grep -F "$SWITCHYARD_IMAGE"
