#!/usr/bin/env bash
# Every node of the Vagrant cluster: kernel settings, containerd, kubeadm,
# kubelet and kubectl from pkgs.k8s.io, a bridge CNI with host-local IPAM on
# this node's pod CIDR, and static routes to the other nodes' pod CIDRs. No
# part of this network needs kube-proxy. Idempotent (`vagrant provision`).
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${NODE_POD_CIDR:?}" "${POD_CIDR:?}" "${ROUTES:?}" "${K8S_VERSION:?}"
export DEBIAN_FRONTEND=noninteractive
log() { printf '[%s] %s\n' "$NODE_NAME" "$*"; }

log "kernel settings"
swapoff -a
sed -i -E '/\sswap\s/ s/^([^#])/#\1/' /etc/fstab
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/kubernetes.conf
modprobe overlay
modprobe br_netfilter
cat > /etc/sysctl.d/90-kubernetes.conf <<SYSCTL
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
SYSCTL
sysctl --system >/dev/null
# bpffs for Switchyard's pins (the loader mounts it too if it is missing).
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf; fi

log "packages"
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  apt-transport-https ca-certificates curl gpg containerd buildah iptables conntrack socat ethtool >/dev/null

log "containerd (systemd cgroups)"
mkdir -p /etc/containerd
containerd config default > /etc/containerd/config.toml
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
systemctl enable containerd >/dev/null 2>&1
systemctl restart containerd
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' > /etc/crictl.yaml

log "kubeadm, kubelet, kubectl v${K8S_VERSION} from pkgs.k8s.io"
install -d -m 0755 /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${K8S_VERSION}/deb/Release.key" \
  | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${K8S_VERSION}/deb/ /" \
  > /etc/apt/sources.list.d/kubernetes.list
apt-get update -qq
apt-get install -y -qq --no-install-recommends kubelet kubeadm kubectl kubernetes-cni cri-tools >/dev/null
apt-mark hold kubelet kubeadm kubectl >/dev/null
# The VMs share the NAT address of their first interface: kubelet must use the
# host-only one.
echo "KUBELET_EXTRA_ARGS=--node-ip=${NODE_IP}" > /etc/default/kubelet
systemctl enable kubelet >/dev/null 2>&1

IFACE=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
NODE_NET=$(ip -o -4 addr show dev "$IFACE" | awk '{ print $4; exit }')
if [ -z "$IFACE" ] || [ -z "$NODE_NET" ]; then
  echo "no interface holds ${NODE_IP}" >&2
  exit 1
fi

log "CNI: bridge cni0 with host-local IPAM on ${NODE_POD_CIDR}"
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/10-switchyard-lab.conflist <<CNI
{
  "cniVersion": "1.0.0",
  "name": "switchyard-lab",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${NODE_POD_CIDR}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI

log "static routes to the other nodes' pod CIDRs via ${IFACE}"
# Pods keep their addresses towards other pods and the node network (replies
# must come back through the node that did the Service DNAT, where the
# datapath reverses it); only traffic leaving the lab is masqueraded.
cat > /usr/local/sbin/switchyard-lab-network <<NET
#!/bin/sh
set -e
for r in ${ROUTES}; do
  ip=\${r%%=*}
  cidr=\${r#*=}
  [ "\$ip" = "${NODE_IP}" ] && continue
  ip route replace "\$cidr" via "\$ip" dev "${IFACE}"
done
iptables -t nat -C POSTROUTING -s "${POD_CIDR}" ! -d "${POD_CIDR}" ! -d "${NODE_NET}" -j MASQUERADE 2>/dev/null \
  || iptables -t nat -A POSTROUTING -s "${POD_CIDR}" ! -d "${POD_CIDR}" ! -d "${NODE_NET}" -j MASQUERADE
NET
chmod 0755 /usr/local/sbin/switchyard-lab-network
cat > /etc/systemd/system/switchyard-lab-network.service <<UNIT
[Unit]
Description=Pod routes between the Vagrant nodes
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/switchyard-lab-network

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable switchyard-lab-network >/dev/null 2>&1
systemctl restart switchyard-lab-network
log "node ready for kubeadm"
