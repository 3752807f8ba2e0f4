#!/usr/bin/env bash
# Every GPU check, on a GPU machine, from the GPU bundle (tests/gpu/bundle.sh makes it on a
# build machine; it carries the binaries and every library but glibc's and CUDA's). No
# set-up, no build, no network. Steps, each under its own `timeout`; the first hard failure
# stops the run with one line naming it:
#   1  probe: the GPU (nvidia-smi), the driver against CUDA 13's minimum, where cudart, cuBLAS
#      and NCCL are (the toolkit's lib64, or the nvidia/* wheels of python3's site-packages;
#      LD_LIBRARY_PATH gets the bundle's lib/ and those folders), glibc, `ldd` of each binary
#   2  GPU tests (alibi_gpu_tests): the kernels against the CPU reference, then the model on
#      the GPU against the CPU; NCCL under mpirun where two GPUs exist
#   3  compute-sanitizer racecheck and memcheck on three attention cases (skipped, with a
#      note, where the runtime refuses the sanitizer)
#   4  attention benchmark, T = 1k..16k, HS 64 and 128   (attention.csv)
#   5  cuBLAS benchmark of the 1.3B QKV product, 8192 x 6144 x 2048
#   6  training-step benchmark: GPT-2 small and 1.3B: tokens/s, MFU, peak memory (train.jsonl)
#   7  end to end: CPU vs GPU losses, a CPU resume of a GPU checkpoint (tests/e2e/train_gpu.sh)
# The timeouts sum to 8 minutes. Output: OUT_DIR/run.log (everything), summary.txt (one line
# per step), attention.csv, train.jsonl, sanitizer.log: five files (scratch goes to a temp
# folder), so a runner that returns only a few files returns them all.
#
#   gpu-bundle/run.sh [OUT_DIR]       # OUT_DIR defaults to $OUT, else ./gpu-results
#   gpu-bundle/run.sh --quick         # steps 1-2 only
#   gpu-bundle/run.sh --dry-run       # print every step's commands; runs nothing (works without a GPU)
#   tests/gpu/run.sh ...              # the same, with the bundle in gpu-bundle/ of this checkout
# Options: --bundle DIR (default: this script's folder when it is a bundle, else
# <repo>/gpu-bundle); --gpu-tests PATH (dry run: list each gtest filter's tests with PATH).
set -uo pipefail

SELF=$(realpath "$0")
HERE=$(dirname "$SELF")
BUDGET_S=480
CUDA13_MIN_DRIVER=580.65.06  # CUDA 13.0 release notes: Linux driver >= 580.65.06 (13.x needs a 580+ driver)

# id | step | timeout s | title
STEPS=(
  "probe|1|30|probe: GPU, driver, CUDA libraries, ldd of every binary"
  "kernels|2a|45|GPU tests: kernels against the CPU reference"
  "model|2b|40|GPU tests: the model on the GPU against the CPU"
  "nccl|2c|20|GPU tests: NCCL under mpirun (two GPUs or more)"
  "racecheck|3a|60|compute-sanitizer racecheck: three attention cases"
  "memcheck|3b|30|compute-sanitizer memcheck: three attention cases"
  "attention|4|45|benchmark: attention, T = 1k..16k, HS 64 and 128"
  "gemm|5|25|benchmark: cuBLAS, 1.3B QKV product 8192 x 6144 x 2048"
  "train_gpt2|6a|35|benchmark: training step, GPT-2 small"
  "train_13b|6b|90|benchmark: training step, 1.3B"
  "e2e|7|60|end to end: CPU vs GPU losses, CPU resume of a GPU checkpoint"
)
QUICK=(probe kernels model nccl)
KERNEL_FILTER='CudaKernels.*:CudaAttention.*:Cases/CudaAttention.*'
MODEL_FILTER='CudaModel.*'
# Both attention kernels: bf16 tensor cores (several tiles; a partial tile) and the exact SIMT
# one (HS 48), with ALiBi.
SANITIZE_FILTER='Cases/CudaAttention.MatchesCpuReference/alibi_bf16_B2_T300_NH3_HS128'
SANITIZE_FILTER+=':Cases/CudaAttention.MatchesCpuReference/alibi_bf16_B2_T77_NH3_HS64'
SANITIZE_FILTER+=':Cases/CudaAttention.MatchesCpuReference/alibi_fp32_B2_T77_NH3_HS48'
BINARIES=(alibi alibi_gpu_tests alibi_gpu_mpi_tests alibi_unit_tests bench_gpu_attention bench_gpu_gemm bench_gpu_train)

# ---- arguments ---------------------------------------------------------------------------------
DRY=0 MODE=full STEP_ID="" BUNDLE="" GPU_TESTS="" OUT_DIR=""
while (($#)); do
  case $1 in
    --quick) MODE=quick ;;
    --dry-run) DRY=1 ;;
    --bundle) BUNDLE=$2; shift ;;
    --gpu-tests) GPU_TESTS=$2; shift ;;
    --step) STEP_ID=$2; shift ;;  # internal: run one step (under the parent's timeout)
    -h|--help) sed -n '2,/^set -uo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) OUT_DIR=$1 ;;
  esac
  shift
done
if [[ -z $BUNDLE ]]; then
  if [[ -f $HERE/payload.tar.xz ]]; then BUNDLE=$HERE; else BUNDLE=$(realpath -m "$HERE/../../gpu-bundle"); fi
fi
OUT_DIR=$(realpath -m "${OUT_DIR:-${OUT:-$PWD/gpu-results}}")
WORK=${WORK:-}  # set by the run for its steps
export DRY BUNDLE OUT_DIR GPU_TESTS WORK
# Load every kernel at start: no lazy-loading stall inside a timed call, and no deadlock of a
# kernel first loaded while NCCL spins in a receive (as launch/ and launch/slurm/ do).
export CUDA_MODULE_LOADING=EAGER
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}  # the CPU references: 16 cores, leave some to the driver

say() { echo "run.sh: $*"; }
# x CMD...: run CMD, or in a dry run print it. show CMD...: print the command a step is about
# to run itself (in a dry run, all the step does).
x() {
  if ((DRY)); then printf '    would run:'; printf ' %q' "$@"; echo; else "$@"; fi
}
show() {
  if ((DRY)); then printf '    would run:'; else printf '+'; fi
  printf ' %q' "$@"; echo
}
version_ge() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1) == "$2" ]]; }
tree() { echo "${ALIBI_BUNDLE_TREE:-BUNDLE_TREE}"; }
# The e2e scripts: the bundle's copy, else (a dry run in a checkout) the repository's.
src_dir() { if [[ -d $BUNDLE/src ]]; then echo "$BUNDLE/src"; else realpath -m "$HERE/../.."; fi; }

# ---- steps ---------------------------------------------------------------------------------------
# Each runs in its own process under `timeout`; exit 0 passed, 77 skipped (it says why), else failed.

# find_lib NAME DIR...: the first DIR holding NAME (a file or link to one).
find_lib() {
  local name=$1 d; shift
  for d; do [[ -e $d/$name ]] && { echo "$d"; return 0; }; done
  return 1
}

step_probe() {
  if ((!DRY)); then
    # shellcheck source=/dev/null
    source "$BUNDLE/bundle_env.sh" || exit 1
  fi
  x nvidia-smi
  local q driver cc
  if ((DRY)); then
    echo "    would check: one GPU or more; driver >= $CUDA13_MIN_DRIVER (CUDA 13); compute capability 9.0"
  else
    q=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1) ||
      { echo "no GPU: nvidia-smi failed ($q)"; exit 1; }
    echo "GPUs: $(wc -l <<<"$q"); first: $(head -1 <<<"$q")"
    driver=$(head -1 <<<"$q" | awk -F', ' '{ print $2 }')
    cc=$(head -1 <<<"$q" | awk -F', ' '{ print $4 }')
    version_ge "$driver" "$CUDA13_MIN_DRIVER" ||
      { echo "driver $driver is older than CUDA 13 needs ($CUDA13_MIN_DRIVER): update the driver"; exit 1; }
    echo "ok: driver $driver >= $CUDA13_MIN_DRIVER (CUDA 13)"
    [[ $cc == 9.0 ]] && echo "ok: compute capability $cc (the bundle has sm_90 code)" ||
      echo "note: compute capability $cc: the bundle has sm_90 code and compute_90 PTX; other GPUs JIT the PTX or refuse"
  fi

  # cudart, cuBLAS(Lt), NCCL: the toolkit's folders first, then PyTorch's nvidia-* wheels
  # (nvidia/<package>/lib, or nvidia/cu13/lib for CUDA 13's wheels), then the loader's cache.
  local dirs=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib) p d lib found=()
  while IFS= read -r p; do
    while IFS= read -r d; do dirs+=("$d"); done < <(find "$p" -maxdepth 3 -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u)
  done < <(python3 -c 'import nvidia; print(*nvidia.__path__, sep="\n")' 2>/dev/null)
  while IFS= read -r d; do dirs+=("$d"); done < <(ldconfig -p 2>/dev/null | awk '/libcu(blas|dart)|libnccl/ { print $NF }' | xargs -r -n1 dirname | sort -u)
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
    if d=$(find_lib "$lib" "${dirs[@]}"); then
      echo "ok: $lib in $d"
      found+=("$d")
    elif ((DRY)); then
      echo "    (here: $lib not found; on the GPU machine it must be)"
    else
      echo "$lib not found in ${dirs[*]}: install the CUDA 13 toolkit or pip's nvidia-* cu13 wheels"; exit 1
    fi
  done
  # libcuda.so.1 is the driver's: the loader's cache, or the driver's own folder.
  if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
    d=$(find_lib libcuda.so.1 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64) && found+=("$d") &&
      echo "ok: libcuda.so.1 (the driver's) in $d" || echo "note: libcuda.so.1 is in no cache or driver folder here"
  fi
  local ld_path
  ld_path="$(tree)/lib"
  for d in "${found[@]}"; do [[ :$ld_path: == *:$d:* ]] || ld_path+=":$d"; done
  echo "LD_LIBRARY_PATH=$ld_path"
  ((DRY)) || echo "export LD_LIBRARY_PATH='$ld_path'" >"$WORK/cuda_env"

  # The bundle's libraries were built against Debian 12's glibc and libstdc++.
  if ((!DRY)); then
    local need have
    need=$(awk '{ print $1 }' "$(tree)/NEEDS"); need=${need#GLIBC_}
    have=$(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$')
    version_ge "$have" "$need" || { echo "glibc $have here; the bundle needs $need: use a newer OS image"; exit 1; }
    echo "ok: glibc $have >= $need"
  fi
  local b out
  for b in "${BINARIES[@]}"; do
    if ((DRY)); then x ldd "$(tree)/bin/$b"; continue; fi
    [[ -x $(tree)/bin/$b ]] || { echo "note: no $b in the bundle"; continue; }
    out=$(LD_LIBRARY_PATH=$ld_path ldd "$(tree)/bin/$b" 2>&1)
    echo "ldd $b: $(grep -c '=>' <<<"$out") libraries; CUDA's:"
    grep -E 'libcuda\.|libcudart|libcublas|libnccl' <<<"$out" | sed 's/^\s*/    /'
    if grep -qE 'not found|version .* not found' <<<"$out"; then
      echo "ldd $b:"; grep -E 'not found' <<<"$out"; echo "$b cannot load: a library above is missing"; exit 1
    fi
  done
  if ((DRY)) || command -v compute-sanitizer >/dev/null || [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
    x "$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)" --version
  else
    echo "note: no compute-sanitizer: step 3 will skip"
  fi
}

# gtest BINARY FILTER LOG: run the filter; fail when any test fails, when none ran, or when one
# skipped (on a GPU machine only the no-device test may skip).
gtest() {
  local bin=$1 filter=$2 log=$3
  show "$bin" --gtest_filter="$filter"
  ((DRY)) && return 0
  "$bin" --gtest_filter="$filter" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  ((rc == 0)) || { echo "gtest exit $rc: see the failures above"; exit 1; }
  grep -qE '^\[==========\] [1-9][0-9]* tests? from' "$log" || { echo "no test ran for $filter"; exit 1; }
  if grep -F '[  SKIPPED ]' "$log" | grep -v -e CudaAbsent -e 'listed below' | grep -q .; then
    echo "tests skipped on a GPU machine (is the GPU visible to CUDA?)"; exit 1
  fi
}

step_kernels() { gtest "$(tree)/bin/alibi_gpu_tests" "$KERNEL_FILTER" "$WORK/kernels.log"; }
step_model() { gtest "$(tree)/bin/alibi_gpu_tests" "$MODEL_FILTER" "$WORK/model.log"; }

step_nccl() {
  local gpus
  if ((DRY)); then x mpirun -np 2 "$(tree)/bin/alibi_gpu_mpi_tests"; echo "    (only with two GPUs or more)"; return 0; fi
  gpus=$(nvidia-smi -L | wc -l)
  [[ -x $(tree)/bin/alibi_gpu_mpi_tests ]] || { echo "skipped: the bundle has no alibi_gpu_mpi_tests"; exit 77; }
  ((gpus >= 2)) || { echo "skipped: $gpus GPU (NCCL's tests need 2: one rank per GPU)"; exit 77; }
  mpirun -np 2 "$(tree)/bin/alibi_gpu_mpi_tests" || { echo "NCCL tests failed"; exit 1; }
}

# sanitize TOOL: the attention cases under compute-sanitizer; 99 = hazards/errors found.
sanitize() {
  local tool=$1 cs log=$WORK/sanitizer_$1.log rc
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  show "$cs" --tool "$tool" --error-exitcode 99 "$(tree)/bin/alibi_gpu_tests" --gtest_filter="$SANITIZE_FILTER"
  ((DRY)) && return 0
  [[ -x $cs ]] || { echo "skipped: no compute-sanitizer on PATH or in /usr/local/cuda/bin"; exit 77; }
  "$cs" --tool "$tool" --error-exitcode 99 "$(tree)/bin/alibi_gpu_tests" --gtest_filter="$SANITIZE_FILTER" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  { echo "==== $tool (exit $rc)"; cat "$log"; } >>"$OUT_DIR/sanitizer.log"
  # gVisor's runtime refuses the sanitizer ("Device not supported", then error 999 at the
  # first allocation); Firecracker's allows it. A refusal is a note, not a failure.
  if ((rc != 0)) &&
     grep -qiE 'Device not supported|not supported on this|Unable to (attach|initialize)|error 999|Target application terminated before first instrumented' "$log"; then
    echo "skipped: this runtime refuses compute-sanitizer (gVisor does; Firecracker allows it): see sanitizer.log"; exit 77
  fi
  ((rc == 0)) || { echo "compute-sanitizer $tool: exit $rc ($( ((rc == 99)) && echo 'errors found' || echo 'the tests failed'))"; exit 1; }
  grep -q 'ERROR SUMMARY: 0 errors' "$log" || { echo "compute-sanitizer $tool printed no 'ERROR SUMMARY: 0 errors'"; exit 1; }
  grep -qE '^\[  PASSED  \] 3 tests' "$log" || { echo "the three attention cases did not all run and pass"; exit 1; }
}
step_racecheck() { sanitize racecheck; }
step_memcheck() { sanitize memcheck; }

step_attention() {
  show "$(tree)/bin/bench_gpu_attention" --csv "$OUT_DIR/attention.csv"
  ((DRY)) && return 0
  "$(tree)/bin/bench_gpu_attention" --csv "$OUT_DIR/attention.csv" || exit 1
  [[ -f $OUT_DIR/attention.csv && $(wc -l <"$OUT_DIR/attention.csv") -eq 11 ]] || { echo "attention.csv lacks its 10 rows (T 1k..16k x HS 64, 128)"; exit 1; }
}

step_gemm() {
  show "$(tree)/bin/bench_gpu_gemm"
  ((DRY)) && return 0
  "$(tree)/bin/bench_gpu_gemm" 2>&1 | tee "$WORK/gemm.log"
  ((PIPESTATUS[0] == 0)) || exit 1
  grep -q 'bf16 operands (ceiling)' "$WORK/gemm.log" || { echo "bench_gpu_gemm measured nothing"; exit 1; }
}

train_bench() {
  local model=$1 steps=$2 line
  show "$(tree)/bin/bench_gpu_train" --model "$model" --steps "$steps" --json
  ((DRY)) && return 0
  line=$("$(tree)/bin/bench_gpu_train" --model "$model" --steps "$steps" --json) || { echo "$line"; exit 1; }
  echo "$line"
  grep -q '"tokens_per_s"' <<<"$line" || { echo "bench_gpu_train --model $model measured nothing"; exit 1; }
  echo "$line" >>"$OUT_DIR/train.jsonl"
}
step_train_gpt2() { train_bench gpt2-small 10; }
step_train_13b() { train_bench 1.3b 6; }

step_e2e() {
  local src log=$WORK/e2e.log
  src=$(src_dir)
  show bash "$src/tests/e2e/train_gpu.sh" "$(tree)/bin/alibi" "$src"
  if ((DRY)); then
    [[ -f $src/tests/e2e/train_gpu.sh && -f $src/tests/e2e/lib/common.bash ]] ||
      { echo "no tests/e2e/train_gpu.sh and lib/common.bash under $src"; exit 1; }
    return 0
  fi
  bash "$src/tests/e2e/train_gpu.sh" "$(tree)/bin/alibi" "$src" 2>&1 | tee "$log"
  ((PIPESTATUS[0] == 0)) || exit 1
  grep -q 'ok: GPU training follows the CPU' "$log" || { echo "train_gpu.sh did not take its GPU path"; exit 1; }
}

if [[ -n $STEP_ID ]]; then
  [[ -f $WORK/cuda_env ]] && source "$WORK/cuda_env"
  "step_$STEP_ID"
  exit 0
fi

# ---- the run -------------------------------------------------------------------------------------
total=0
for s in "${STEPS[@]}"; do IFS='|' read -r _ _ t _ <<<"$s"; total=$((total + t)); done
((total <= BUDGET_S)) || { say "FAILED: the step timeouts sum to $total s, over the $BUDGET_S s budget"; exit 1; }
selected=()
for s in "${STEPS[@]}"; do
  id=${s%%|*}
  if [[ $MODE == quick ]] && ! printf '%s\n' "${QUICK[@]}" | grep -qx "$id"; then continue; fi
  selected+=("$s")
done

if ((DRY)); then
  say "dry run: ${#selected[@]} steps, timeouts summing to $total s (budget $BUDGET_S s); bundle $BUNDLE; results would go to $OUT_DIR"
  [[ -f $BUNDLE/payload.tar.xz ]] || say "(no bundle at $BUNDLE yet: tests/gpu/bundle.sh makes it)"
  tree_guess="${TMPDIR:-/tmp}/alibi-gpu-bundle-$(cut -c1-16 "$BUNDLE/payload.sha256" 2>/dev/null)"
  [[ -e $tree_guess/.unpacked ]] && export ALIBI_BUNDLE_TREE=$tree_guess
  for s in "${selected[@]}"; do
    IFS='|' read -r id num t title <<<"$s"
    echo "== [$num] $title (timeout ${t}s)"
    ( "step_$id" ) || { say "FAILED: dry run of step $num ($id)"; exit 1; }
  done
  # The filters must name tests that exist: list them with a built alibi_gpu_tests (no GPU needed).
  lister=${GPU_TESTS:-$(tree)/bin/alibi_gpu_tests}
  [[ -z $GPU_TESTS ]] && export LD_LIBRARY_PATH="$(tree)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [[ -x $lister ]]; then
    for f in "$KERNEL_FILTER" "$MODEL_FILTER" "$SANITIZE_FILTER"; do
      n=$("$lister" --gtest_list_tests --gtest_filter="$f" | grep -c '^  ')
      ((n > 0)) || { say "FAILED: the filter $f selects no test of $lister"; exit 1; }
      echo "filter $f: $n tests"
    done
    [[ $("$lister" --gtest_list_tests --gtest_filter="$SANITIZE_FILTER" | grep -c '^  ') -eq 3 ]] ||
      { say "FAILED: the sanitizer filter must select its three attention cases"; exit 1; }
  else
    echo "(no alibi_gpu_tests at $lister to list the filters with; pass --gpu-tests PATH)"
  fi
  say "dry run complete: ${#selected[@]} steps"
  exit 0
fi

[[ -f $BUNDLE/payload.tar.xz ]] ||
  { say "FAILED: no bundle at $BUNDLE: make one with tests/gpu/bundle.sh on a build machine and carry the folder"; exit 1; }
mkdir -p "$OUT_DIR" || exit 1
rm -f "$OUT_DIR"/{run.log,summary.txt,attention.csv,train.jsonl,sanitizer.log}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alibi-gpu-run.XXXXXX")  # the steps' scratch: kept out of OUT_DIR
trap 'rm -rf "$WORK"' EXIT  # what the steps print is in run.log
LOG=$OUT_DIR/run.log
SUMMARY=$OUT_DIR/summary.txt
start_all=$(date +%s)
say "$(date -u +%FT%TZ) on $(hostname): ${#selected[@]} steps ($MODE), bundle $BUNDLE, results in $OUT_DIR" | tee -a "$LOG"
for s in "${selected[@]}"; do
  IFS='|' read -r id num t title <<<"$s"
  echo "== [$num] $title (timeout ${t}s)" | tee -a "$LOG"
  t0=$(date +%s)
  timeout -k 10 "$t" bash "$SELF" --step "$id" --bundle "$BUNDLE" "$OUT_DIR" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  dt=$(($(date +%s) - t0))
  # The unpacked tree and the CUDA folders the probe chose, for the steps after it.
  if [[ $id == probe && $rc == 0 ]]; then
    # shellcheck source=/dev/null
    source "$BUNDLE/bundle_env.sh" && source "$WORK/cuda_env"
  fi
  case $rc in
    0) verdict="ok" ;;
    77) verdict="skipped: $(grep '^skipped: ' "$LOG" | tail -1 | cut -c10-)" ;;
    124|137) verdict="FAILED: timed out after ${t}s" ;;
    *) verdict="FAILED: exit $rc: $(tail -1 "$LOG")" ;;
  esac
  printf '%-4s %-11s %4ds  %s\n' "$num" "$id" "$dt" "$verdict" | tee -a "$SUMMARY" >>"$LOG"
  if [[ $verdict == FAILED* ]]; then
    line="run.sh: FAILED at step $num ($title): ${verdict#FAILED: }"
    echo "$line" | tee -a "$LOG" "$SUMMARY"
    exit 1
  fi
done
line="run.sh: all ${#selected[@]} steps passed or skipped in $(($(date +%s) - start_all)) s; results in $OUT_DIR"
echo "$line" | tee -a "$LOG" "$SUMMARY"
