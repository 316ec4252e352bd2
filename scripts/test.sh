#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: BPF programs through
# BPF_PROG_TEST_RUN, TypeScript units, the loader, the lab and the lab
# end-to-end tests in network namespaces. Exit status 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Tools only the tests use: shellcheck for the provisioning scripts, vagrant
# for `vagrant validate` of the test cluster, chromium for the status page.
TEST_PACKAGES=(shellcheck vagrant chromium)
missing=()
for p in "${TEST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

exec node scripts/run-tests.mjs "$@"
