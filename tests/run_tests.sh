#!/usr/bin/env bash
# The test command (README command 2): set-up, build everything, run the whole suite
# (unit, MPI and end-to-end tests) under ctest on all cores, then say which tests were
# skipped and why (tests/skipped_summary.py). The exit code is ctest's.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/launch/build.sh"
cd "${ALIBI_BUILD_DIR:-$root/build}"
junit=$PWD/Testing/run_tests.junit.xml
rm -f "$junit"  # a stale report must not speak for this run
code=0
ctest -j"$(nproc)" --output-on-failure --timeout 900 --output-junit "$junit" "$@" || code=$?
echo
if [[ -f $junit ]]; then
  python3 "$root/tests/skipped_summary.py" "$junit" || echo "(could not read $junit for the skip summary)"
else
  echo "Skipped: unknown (ctest wrote no report to $junit)"
fi
exit $code
