#!/usr/bin/env bash
# Checkpoint save/load time before and after a change, alternated in one run so both
# see the same box: bench/bench_checkpoint.sh BEFORE_BIN AFTER_BIN DIR [ROUNDS]
# (each BIN is a build of bench/bench_checkpoint.cpp against that tree).
set -euo pipefail
before=$1 after=$2 dir=$3 rounds=${4:-3}
mkdir -p "$dir"
for r in $(seq "$rounds"); do
  echo "round $r before: $("$before" "$dir" 3)"
  echo "round $r after:  $("$after" "$dir" 3)"
done
