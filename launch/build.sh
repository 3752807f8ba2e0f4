#!/usr/bin/env bash
# Set-up and build: installs missing packages (launch/setup.sh), configures and builds
# into ${ALIBI_BUILD_DIR:-build}. Idempotent; ccache makes rebuilds fast.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/launch/setup.sh"
build=${ALIBI_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" "$@"
