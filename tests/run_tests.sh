#!/usr/bin/env bash
# The test command (README command 2): set-up, build everything, run the whole suite
# (unit, MPI and end-to-end tests) under ctest on all cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/launch/build.sh"
cd "${ALIBI_BUILD_DIR:-$root/build}"
ctest -j"$(nproc)" --output-on-failure --timeout 900 "$@"
