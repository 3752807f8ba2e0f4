#!/usr/bin/env bash
# Fuzz every reader of user files with libFuzzer (clang's -fsanitize=fuzzer,address; not
# part of the default build or of CI, which has no time for it):
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     # default 30 s each, every target
#
# Targets (tests/fuzz/fuzz_*.cpp): json (JSON Lines records, encoder.json), gpt2 (the
# GPT-2 vocabulary files), megatron (a .idx/.bin pair), config (an --config INI), hdf5
# (the corpus and checkpoint schema checks over mutated HDF5 files). Builds build-fuzz/
# (clang, ASan+UBSan, coverage), grows build-fuzz/corpus/TARGET from the committed seeds in
# tests/fuzz/seeds/TARGET, keeps any crashing input as build-fuzz/findings/TARGET-*, and
# prints one line per target: executions, seconds, new findings. A finding that is fixed
# becomes a regression test (tests/unit/test_fuzz_regressions.cpp, with its input).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(json gpt2 megatron config hdf5)
build=$root/build-fuzz
command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (apt-get install clang)" >&2; exit 2; }
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALIBI_CUDA=OFF -DALIBI_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >"$build/configure.log" 2>&1 ||
  { tail -20 "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"${ALIBI_FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >"$build/build.log" 2>&1 ||
  { grep -E "error" "$build/build.log" | head -20 >&2; exit 1; }
mkdir -p "$build/findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}  # Open MPI's and HDF5's start-up allocations are not ours
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  mkdir -p "$corpus"
  before=$(find "$build/findings" -name "$t-*" | wc -l)
  # max_len: the largest seed (a checkpoint for hdf5) must fit whole.
  max_len=$(( $(find "$root/tests/fuzz/seeds/$t" -type f -printf '%s\n' | sort -n | tail -1) + 4096 ))
  log=$build/fuzz_$t.log
  regressions=()  # fixed findings' inputs, replayed first
  [[ -d $root/tests/fuzz/regressions/$t ]] && regressions=("$root/tests/fuzz/regressions/$t")
  "$build/tests/fuzz/fuzz_$t" "$corpus" "$root/tests/fuzz/seeds/$t" "${regressions[@]}" -max_total_time="$seconds" -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$build/findings/$t-" -print_final_stats=1 >"$log" 2>&1 || status=1
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  after=$(find "$build/findings" -name "$t-*" | wc -l)
  echo "fuzz_$t: ${runs:-?} executions in ${seconds} s, corpus $(find "$corpus" -type f | wc -l) inputs, $((after - before)) new findings$( ((after > before)) && echo " (see $log)")"
done
exit $status
