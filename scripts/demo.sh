#!/usr/bin/env bash
# Sets everything up, then runs the lab demo: a two-node cluster in network
# namespaces, a Deployment of whoami pods behind a ClusterIP Service, and a
# client pod whose requests follow the pods as they are scaled and deleted.
# The lab is torn down at the end (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

LAB=${LAB:-demo}
sy() { node bin/switchyard.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap 'step "tearing the lab down"; sy lab down --name "$LAB" || sy cleanup --name "$LAB"' EXIT

step "starting a 2-node lab (namespaces, API server, one loader + agent per node)"
sy lab up --name "$LAB" --nodes 2 --mode "${MODE:-ebpf}"
sy lab get nodes --name "$LAB"

step "applying lab/examples/whoami.yaml: Deployment (3 pods), Service, client pod"
sy lab apply --name "$LAB" -f lab/examples/whoami.yaml
sy lab wait-ready --name "$LAB" --timeout 60
sy lab get pods --name "$LAB" -o wide
sy lab get services --name "$LAB"
VIP=$(sy lab get services whoami --name "$LAB" -o json | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).items[0].spec.clusterIP')

probe() {
  sy lab exec --name "$LAB" client -- lab/build/sy-probe "$1" "$VIP" "$2" --count "${3:-9}" --timeout-ms 1000 | sort | uniq -c
}

step "9 HTTP requests from the client pod to $VIP:80 (each a new connection)"
probe http 80
step "9 UDP datagrams to $VIP:53"
probe udp 53

step "scaling the Deployment to 1"
sy lab scale --name "$LAB" deployment/whoami 1
sleep 2
probe http 80

step "scaling the Deployment to 4"
sy lab scale --name "$LAB" deployment/whoami 4
sy lab wait-ready --name "$LAB" --timeout 60
sleep 1
probe http 80 16

step "the service map of node1, read with bpftool"
bpftool map dump pinned "/sys/fs/bpf/switchyard/$LAB-n1/sy_services" | head -40 || true

step "deleting the Service: the VIP stops answering"
sy lab delete --name "$LAB" -f - <<<'{"apiVersion":"v1","kind":"Service","metadata":{"name":"whoami"}}'
sleep 1
sy lab exec --name "$LAB" client -- lab/build/sy-probe http "$VIP" 80 --count 3 --timeout-ms 500 || true

step "done"
