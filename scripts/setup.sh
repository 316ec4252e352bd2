#!/usr/bin/env bash
# Installs what Switchyard needs on Debian 12 (as root) and builds it. Safe to
# run again: it installs only what is missing and rebuilds only what changed.
# Shared by the README's commands and the container image build.
#   bash scripts/setup.sh               install, build, and mount bpffs if needed
#   bash scripts/setup.sh --build-only  install and build only, no mount (the
#                                       Dockerfile's build stage runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_ONLY=0
case "${1-}" in
  "") ;;
  --build-only) BUILD_ONLY=1 ;;
  *) echo "usage: setup.sh [--build-only]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (the lab needs network namespaces and BPF)" >&2
  exit 1
fi

APT_PACKAGES=(clang llvm libbpf-dev bpftool iproute2 iptables conntrack ethtool libprotobuf-c-dev protobuf-c-compiler
  libelf-dev zlib1g-dev pkg-config make gcc libc6-dev)
# shellcheck source=scripts/apt-ensure.sh
source scripts/apt-ensure.sh
apt_ensure setup "${APT_PACKAGES[@]}"
# kubectl, for `switchyard lab kubectl` and the kubectl tests: the machine's own, else Debian's.
command -v kubectl >/dev/null || apt_ensure setup kubernetes-client

if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "       Debian 12's nodejs package is 18; install Node.js 20 or newer first." >&2
  exit 1
fi

# bpffs for the loader's pins (a filesystem mount; no network change).
if [ "$BUILD_ONLY" -eq 0 ] && ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
# One job per CPU: the BPF entry points, the loader and the lab tools are
# separate compiles (the Makefiles' dependencies order what must be).
make -s -j"$(nproc)" all
npx --no-install tsc -p tsconfig.json
# The agent's modules as one file (its cold start; scripts/bundle-agent.mjs).
node scripts/bundle-agent.mjs
echo "setup: done"
