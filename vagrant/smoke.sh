#!/usr/bin/env bash
# Smoke test of the Vagrant cluster, run from the host after `vagrant up`:
#   - Switchyard runs on every node and kube-proxy on none;
#   - a ClusterIP Service answers a pod, over TCP (several backends) and UDP,
#     by IP and by DNS name (CoreDNS is itself behind a ClusterIP);
#   - a NodePort Service answers a pod and this host, on every node's address.
# Prints one line per check and "smoke: N passed, M failed"; exit 1 on any
# failure. SY_KEEP=1 keeps the sy-smoke namespace afterwards.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
CP=${SY_CP:-cp}
NODE_SUBNET=${SY_NODE_SUBNET:-192.168.56}
WORKERS=${SY_WORKERS:-2}
NODEPORT=30080
passed=0
failed=0

# kubectl on the control plane (as the vagrant user), arguments quoted for its shell.
k() { vagrant ssh "$CP" --no-tty -c "$(printf '%q ' kubectl "$@")" 2>/dev/null; }
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}

node_ips=("${NODE_SUBNET}.10")
for i in $(seq 1 "$WORKERS"); do node_ips+=("${NODE_SUBNET}.$((10 + i))"); done

no_kube_proxy() { ! k -n kube-system get daemonset kube-proxy >/dev/null; }
switchyard_ready() { k -n kube-system rollout status daemonset/switchyard --timeout=10m >/dev/null; }
nodes_ready() { k wait --for=condition=Ready nodes --all --timeout=5m >/dev/null; }
check "kube-proxy is not installed" no_kube_proxy
check "switchyard runs on every node" switchyard_ready
check "every node is Ready" nodes_ready

k apply -f /vagrant/vagrant/smoke.yaml >/dev/null
k -n sy-smoke rollout status deployment/web --timeout=5m >/dev/null
k -n sy-smoke wait --for=condition=Ready pod/client --timeout=5m >/dev/null
vip=$(k -n sy-smoke get service web -o 'jsonpath={.spec.clusterIP}')
echo "ClusterIP of sy-smoke/web: ${vip:-none}"

http_from_pod() { k -n sy-smoke exec client -- curl -fsS --max-time 3 "http://$1/hostname"; }

clusterip_tcp() {
  local answers distinct
  # 12 connections from inside the pod (one kubectl exec).
  answers=$(k -n sy-smoke exec client -- sh -c \
    "for i in \$(seq 1 12); do curl -fsS --max-time 3 http://$vip:80/hostname || echo ERR; echo; done")
  distinct=$(printf '%s\n' "$answers" | grep -v -e '^$' -e ERR | sort -u | wc -l)
  echo "  answers: $(printf '%s\n' "$answers" | grep -v '^$' | sort | uniq -c | tr -s ' \n' ' ')"
  ! printf '%s\n' "$answers" | grep -q ERR && [ "$distinct" -ge 2 ]
}
clusterip_udp() {
  local out
  # netexec's UDP port answers the command "hostname" with the pod's name.
  out=$(k -n sy-smoke exec client -- sh -c "echo hostname | nc -u -w 2 $vip 81" 2>&1)
  echo "  udp answer: ${out:-none}"
  [ -n "$out" ]
}
clusterip_dns() { http_from_pod "web.sy-smoke.svc.cluster.local:80" >/dev/null; }
nodeport_from_pod() { http_from_pod "$1:$NODEPORT" >/dev/null; }
nodeport_from_host() { curl -fsS --max-time 3 "http://$1:$NODEPORT/hostname" >/dev/null; }

check "ClusterIP TCP from a pod: 12 connections, at least 2 backends" clusterip_tcp
check "ClusterIP UDP from a pod" clusterip_udp
check "ClusterIP by DNS name from a pod (CoreDNS through Switchyard)" clusterip_dns
for ip in "${node_ips[@]}"; do
  check "NodePort $ip:$NODEPORT from a pod" nodeport_from_pod "$ip"
  check "NodePort $ip:$NODEPORT from this host" nodeport_from_host "$ip"
done

if [ "${SY_KEEP:-0}" != 1 ]; then k delete namespace sy-smoke --wait=false >/dev/null; fi
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
