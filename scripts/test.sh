#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: BPF programs through
# BPF_PROG_TEST_RUN, TypeScript units, the loader, the lab and the lab
# end-to-end tests in network namespaces. Exit status 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/run-tests.mjs "$@"
