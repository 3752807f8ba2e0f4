#!/usr/bin/env bash
# The sanitizer job (.ci/run runs it after tests/run_tests.sh): builds alibi and the unit
# and MPI tests with AddressSanitizer + UBSan (-DALIBI_SANITIZE=ON, RelWithDebInfo, CPU
# only) into build-asan/, then runs under them the unit tests, the MPI layout tests on 2
# and 4 ranks, the end-to-end CLI tests (bad input among them: one error line, so no
# report), and a short real run: a BPE corpus, training, a resume, evaluation, and tp 2
# then pp 2 under mpirun -np 2.
# Any finding fails the job: the first report ends its process with exit code 66
# (halt_on_error, -fno-sanitize-recover), leaks included. tests/sanitize.supp suppresses
# leaks inside Open MPI, libevent and hwloc only.
#   ./tests/sanitize.sh             (ALIBI_SANITIZE_BUILD_DIR=DIR for another build dir)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ALIBI_SANITIZE_BUILD_DIR:-$root/build-asan}
start=$SECONDS
phase() { echo "sanitize: [$((SECONDS - start)) s] $*"; }

# ---- sanitizer options (set before the build: gtest discovery runs the test binary) ----
# exitcode=66 for ASan, LSan and UBSan alike tells a finding apart from an ordinary error's
# exit 1 (a failed libstdc++ assertion, -D_GLIBCXX_ASSERTIONS, aborts: 134).
# fast_unwind_on_malloc=0: full allocation stacks, through Open MPI's code built without
# frame pointers, so that the leak suppressions can match them.
# intercept_tls_get_addr=0: GCC 12's runtime takes some dynamic TLS blocks (of dlopen'ed
# libraries: Open MPI's components) for glibc 2.19 ones, and the leak check then crashes
# reading a bogus range ("Tracer caught signal 11"; seen at 4 ranks resuming a
# checkpoint; google/sanitizers#1322). Our own TLS is static and still scanned.
export ASAN_OPTIONS="halt_on_error=1:exitcode=66:detect_leaks=1:detect_stack_use_after_return=1:\
check_initialization_order=1:strict_init_order=1:strict_string_checks=1:fast_unwind_on_malloc=0:\
intercept_tls_get_addr=0"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=66:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize.supp:print_suppressions=0"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}  # see launch/main_job.sh

# ---- build ------------------------------------------------------------------------------
phase "building into $build"
ALIBI_BUILD_DIR=$build \
ALIBI_CMAKE_ARGS="-DALIBI_SANITIZE=ON -DALIBI_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
  "$root/launch/build.sh" --target alibi alibi_unit_tests alibi_mpi_tests
alibi=$build/launch/alibi
work=$(mktemp -d /tmp/alibi-sanitize.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "sanitize: FAIL: $*" >&2; exit 1; }

# ---- unit and MPI tests -----------------------------------------------------------------
# The unit tests in two shards side by side, one thread each (one MPI start per shard,
# not one per test as under ctest).
phase "unit tests"
for shard in 0 1; do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$shard \
    "$build/tests/alibi_unit_tests" >"$work/unit$shard.log" 2>&1 &
done
for shard in 0 1; do
  code=0; wait -n || code=$?
  [[ $code -eq 0 ]] || { cat "$work"/unit*.log >&2; fail "unit tests: exit code $code (66: a sanitizer finding)"; }
done
grep -h "PASSED" "$work"/unit*.log
for np in 2 4; do
  phase "MPI layout tests, mpirun -np $np"
  OMP_NUM_THREADS=1 timeout 600 mpirun -np $np --oversubscribe "$build/tests/alibi_mpi_tests" \
    >"$work/mpi$np.log" 2>&1 || { cat "$work/mpi$np.log" >&2; fail "MPI tests at np $np"; }
  grep -h "PASSED" "$work/mpi$np.log"
done
# The CLI tests drive build-asan's alibi. Not slurm.sh (daemons, minutes) nor mpi_kill.sh
# (600 steps and a 10 s deadline, both sized for the optimised build).
phase "end-to-end CLI tests"
(cd "$build" && ctest -j2 -L e2e -E '^e2e\.(slurm|mpi_kill)$' --output-on-failure --timeout 600)

# ---- a short real run -------------------------------------------------------------------
export OMP_NUM_THREADS=2  # the OpenMP loops run threaded here
# run NAME CMD...: CMD must succeed; its output is shown only when it fails.
run() {
  local name=$1; shift
  timeout 600 "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; fail "$name: $*"; }
}
phase "real run: corpus, train, resume, eval"
mkdir -p "$work/text"
docs=/usr/share/doc/linux-doc-6.1/html/_sources
[[ -d $docs ]] || docs=$root
mapfile -t files < <(find "$docs" -type f \( -name '*.txt' -o -name '*.cpp' -o -name '*.h' \) -size +4k | sort)
for i in $(seq 0 15); do cp "${files[i]}" "$work/text/doc$i.txt"; done
run preprocess "$alibi" preprocess --input "$work/text" --output "$work/c.h5" --tokenizer bpe --vocab 400 \
  --valid-docs 3 --test-docs 2
# 6 heads (slopes of a non-power of two), T=40 (not a multiple of the attention tile).
model=(--data "$work/c.h5" --layers 2 --channels 48 --heads 6 --seq-len 40 --micro-batch 2 --grad-accum 2
       --steps 6 --warmup 2 --save-every 3 --keep 0 --eval-every 3 --eval-batches 2 --log-every 1)
run train "$alibi" train "${model[@]}" --out-dir "$work/one"
run resume "$alibi" train --resume "$work/one/step_00000003.h5" --out-dir "$work/resumed"
[[ -f $work/resumed/step_00000006.h5 ]] || fail "the resumed run wrote no final checkpoint"
run eval "$alibi" eval --checkpoint "$work/one/step_00000006.h5" "$work/resumed/step_00000006.h5" \
  --lengths 20,40,80 --out "$work/eval"
run eval-sliding "$alibi" eval --checkpoint "$work/one/step_00000006.h5" --lengths 80 --mode sliding \
  --stride 16 --split test --out "$work/eval-sliding"
run plan "$alibi" plan --config "$root/launch/configs/tiny.ini" --tp 2 --pp 2 --dp 2

phase "real run: mpirun -np 2 at tp 2, then resumed at pp 2"
export OMP_NUM_THREADS=1  # two ranks on two cores
run tp2 mpirun -np 2 "$alibi" train "${model[@]}" --tp 2 --out-dir "$work/tp2"
grep -q "layout tp=2 pp=1 dp=1" "$work/tp2.log" || fail "expected layout tp=2 pp=1 dp=1"
run tp2-to-pp2 mpirun -np 2 "$alibi" train --resume "$work/tp2/step_00000003.h5" --tp 1 --pp 2 \
  --out-dir "$work/pp2"
grep -q "layout tp=1 pp=2 dp=1" "$work/tp2-to-pp2.log" || fail "expected layout tp=1 pp=2 dp=1"

phase "ok: no sanitizer findings"
