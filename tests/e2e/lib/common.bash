# Shared helpers for the end-to-end CLI tests. Each test is run by ctest as
#   bash tests/e2e/<name>.sh <path-to-alibi> <source-dir>
# and ends in one of three ways: exit 0 (passed), fail (exit 1), or skip (exit 77, which
# tests/CMakeLists.txt declares as every script test's SKIP_RETURN_CODE, so ctest counts
# it as skipped, never as passed; tests/run_tests.sh lists the reasons).
set -euo pipefail
ALIBI=$1
SRC=$2
WORK=$(mktemp -d /tmp/alibi-e2e.XXXXXX)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # ctest runs two tests at once on two cores

fail() { echo "FAIL: $*" >&2; exit 1; }

# skip REASON: this machine cannot run the test (no npm, no GPU, ...). Say why on the one
# line tests/run_tests.sh reports, and stop.
E2E_SKIPPING=0
skip() {
  echo "SKIPPED: $*"
  E2E_SKIPPING=1
  exit 77
}

# e2e_exit CODE: the end of every test (the EXIT trap; a script with its own trap calls it
# last). Removes $WORK, and turns a 77 that did not come from skip (a command that happened
# to exit 77 under set -e) into a failure, so that only skip can make ctest say skipped.
e2e_exit() {
  local code=$1
  rm -rf "$WORK"
  if [[ $code -eq 77 && $E2E_SKIPPING -ne 1 ]]; then
    echo "FAIL: a command exited 77, the skip code, without skip(): counted as a failure" >&2
    code=1
  fi
  exit "$code"
}
trap 'e2e_exit $?' EXIT

# expect_error NAME PATTERN CMD...: CMD must exit non-zero with exactly one line on stderr
# matching PATTERN (a grep -E regex). Its status is left in EXPECT_ERROR_CODE.
expect_error() {
  local name=$1 pattern=$2; shift 2
  local err="$WORK/$name.err" code=0
  "$@" >"$WORK/$name.out" 2>"$err" || code=$?
  EXPECT_ERROR_CODE=$code  # for a test that also checks the status
  [[ $code -ne 0 ]] || fail "$name: exit code 0, expected an error"
  local lines; lines=$(wc -l <"$err")
  [[ $lines -eq 1 ]] || { cat "$err" >&2; fail "$name: $lines lines on stderr, expected 1"; }
  grep -qE -e "$pattern" "$err" || { cat "$err" >&2; fail "$name: error does not match /$pattern/"; }
  echo "ok: $name: $(cat "$err")"
}

# rank_pid PATTERN RANK: the pid of MPI rank RANK among the processes whose command line
# contains PATTERN (unique to the job, e.g. its --out-dir): the one whose environment says
# OMPI_COMM_WORLD_RANK=RANK (mpirun) or PMIX_RANK=RANK (srun --mpi=pmix). Empty when none.
rank_pid() {
  local pattern=$1 rank=$2 pid
  for pid in $(pgrep -f -- "$pattern"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxE "(OMPI_COMM_WORLD_RANK|PMIX_RANK)=$rank"; then
      echo "$pid"
      return
    fi
  done
}

# make_repeated_corpus DIR: three documents of a short text repeated; each byte of the
# period determines the next, so a model can drive the loss to ~0.
make_repeated_corpus() {
  local dir=$1 period="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;0123456789"
  mkdir -p "$dir"
  for d in 1 2 3; do
    for _ in $(seq 400); do printf '%s' "$period"; done >"$dir/doc$d.txt"
  done
}

# make_text_corpus DIR N: N documents of real text (the Linux docs when installed, else
# this repository's sources).
make_text_corpus() {
  local dir=$1 n=$2 i=0
  mkdir -p "$dir"
  local src=/usr/share/doc/linux-doc-6.1/html/_sources
  [[ -d $src ]] || src=$SRC
  while IFS= read -r f; do
    cp "$f" "$dir/doc$i.txt"; i=$((i + 1)); [[ $i -lt $n ]] || break
  done < <(find "$src" -type f \( -name '*.txt' -o -name '*.cpp' -o -name '*.h' \) -size +4k | sort)
}

# expect_same_metrics A.jsonl B.jsonl [N]: two runs logged the same steps with the same
# values (loss, lr, grad_norm, val_loss), every line; only timings (keys ending in _s:
# seconds and tokens_per_s) may differ. With N, A must hold steps 1..N once each (a
# resumed run's file reads as one run). Values are printed with 6-7 significant digits,
# so this is equality at that precision; expect_same_checkpoint checks the bits.
expect_same_metrics() {
  python3 - "$1" "$2" "${3:-0}" <<'PY' || fail "metrics differ: $1 vs $2"
import json, sys
def steps(path):
    return [{k: v for k, v in json.loads(line).items() if not k.endswith("_s")} for line in open(path)]
a, b, n = steps(sys.argv[1]), steps(sys.argv[2]), int(sys.argv[3])
if n and [m["step"] for m in a] != list(range(1, n + 1)):
    sys.exit(f"{sys.argv[1]} does not hold steps 1..{n} once each")
if len(a) != len(b):
    sys.exit(f"{len(a)} logged steps vs {len(b)}")
for x, y in zip(a, b):
    if x != y:
        sys.exit(f"first difference:\n  {x}\n  {y}")
print(f"ok: same metrics: {len(a)} steps, final loss {a[-1]['loss']:.6f}")
PY
}

# expect_resumed_losses FULL.jsonl RESUMED.jsonl [TOL]: a run resumed from the step-2
# checkpoint logged steps 3 and 4 only, with losses within TOL (relative; default 1e-5) of
# the uninterrupted run's. Layouts that differ only in the order of float sums drift by
# ~1e-7 relative per step; 1e-5 leaves room for a few AdamW steps and still catches a
# wrongly restored tensor (O(1e-2) and up).
expect_resumed_losses() {
  python3 - "$1" "$2" "${3:-1e-5}" <<'PY' || fail "losses after resuming $2 differ from $1"
import json, sys
full = {m["step"]: m["loss"] for m in map(json.loads, open(sys.argv[1]))}
resumed = {m["step"]: m["loss"] for m in map(json.loads, open(sys.argv[2]))}
tol = float(sys.argv[3])
assert sorted(resumed) == [3, 4], f"resumed run logged steps {sorted(resumed)}, expected 3 and 4"
for step in (3, 4):
    rel = abs(resumed[step] - full[step]) / abs(full[step])
    print(f"  step {step}: uninterrupted {full[step]:.7f} resumed {resumed[step]:.7f} rel {rel:.1e}")
    assert rel <= tol, f"step {step}: relative difference {rel:.2e} over {tol}"
PY
}

# expect_same_checkpoint A.h5 B.h5: the model and optimizer state of two checkpoints are
# bit for bit the same (h5diff without a tolerance compares values exactly). Their
# /config may differ (out-dir, data path), so only /model and /optimizer are compared.
expect_same_checkpoint() {
  local a=$1 b=$2 group
  [[ -f $a ]] || fail "$a: no such checkpoint"
  [[ -f $b ]] || fail "$b: no such checkpoint"
  for group in /model /optimizer; do
    h5diff "$a" "$b" "$group" "$group" >"$WORK/h5diff.out" 2>&1 ||
      { head -20 "$WORK/h5diff.out" >&2; fail "$group differs: $a vs $b"; }
  done
  echo "ok: same checkpoint: /model and /optimizer of $(basename "$a") identical"
}
