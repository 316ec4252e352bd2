# Switchyard's node image: the loader (C on libbpf, with the BPF datapath
# embedded through its skeleton) and the agent (Node.js). deploy/daemonset.yaml
# runs it as two containers of one pod.
#
#   docker build -t localhost/switchyard:0.1.0 .
#   buildah bud -t localhost/switchyard:0.1.0 .      (what vagrant/ does)
#
# The build stage runs the same script as a developer machine
# (scripts/setup.sh: Debian build packages, npm ci, make, tsc, the agent bundle
# dist/control-plane/agent.bundle.mjs), so CI's
# `bash scripts/test.sh` exercises the image's build steps too.
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh --build-only \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${NODE_IMAGE}
# Runtime libraries of the loader (libbpf, libelf, zlib, protobuf-c) and the
# tools the agent runs: ip (device watcher), iptables and conntrack (iptables
# mode, and removing kube-proxy's rules in ebpf mode), modprobe for iptables'
# modules, mount/mountpoint for the loader's bpffs check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libprotobuf-c1 iproute2 iptables conntrack kmod mount util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/switchyard
COPY --from=build /src/loader/build/switchyard-loader /usr/local/bin/switchyard-loader
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist/control-plane ./dist/control-plane
# The entry point (bin/switchyard.js -> dist/cli); the lab and the benchmarks
# (dist/lab, dist/bench) stay out: their commands say they are not in the image.
COPY --from=build /src/dist/cli ./dist/cli
# Read at run time next to dist/: the loader protocol and the admin UI's files.
COPY --from=build /src/loader/loader.proto ./loader/loader.proto
COPY --from=build /src/control-plane ./control-plane
ENV NODE_ENV=production
LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="eBPF kube-proxy replacement: loader and agent" \
      org.opencontainers.image.licenses="Apache-2.0"
CMD ["node", "/opt/switchyard/bin/switchyard.js", "help"]
