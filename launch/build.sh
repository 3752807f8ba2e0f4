#!/usr/bin/env bash
# Set-up and build: installs missing packages (launch/setup.sh), configures and builds
# into ${ALIBI_BUILD_DIR:-build}. Idempotent; ccache makes rebuilds fast.
# ALIBI_CMAKE_ARGS adds configure arguments (split on spaces) after the defaults, so they
# win: e.g. ALIBI_CMAKE_ARGS="-DALIBI_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo".
# Give a build dir the same arguments every time: CMake's cache keeps what it was given.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/launch/setup.sh"
build=${ALIBI_BUILD_DIR:-$root/build}
read -r -a extra <<<"${ALIBI_CMAKE_ARGS:-}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" "$@"
