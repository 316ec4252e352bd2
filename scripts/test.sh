#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: BPF programs through
# BPF_PROG_TEST_RUN, TypeScript units, the loader, the lab and the lab
# end-to-end tests in network namespaces. Exit status 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Tools only the tests use: shellcheck for the provisioning scripts, vagrant
# for `vagrant validate` of the test cluster, chromium for the status page.
# shellcheck source=scripts/apt-ensure.sh
source scripts/apt-ensure.sh
apt_ensure test shellcheck vagrant chromium

exec node scripts/run-tests.mjs "$@"
