# alibi study end to end, locally: a tiny 3-size x 2-method study (about 100k tokens per
# run) planned, run through mpirun (launch/mpirun_single_node.sh), run again (every step
# skipped: nothing retrained or re-evaluated), its status, and its report, whose numbers
# must equal each run's own metrics.jsonl and eval JSON. Then the bad inputs, each one
# clear line before anything starts: an unknown option (with its line), an axis value
# that makes an invalid model (the run named), a size that does not fit gpu-memory-gb.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
/usr/bin/python3 -c 'import scipy, matplotlib' 2>/dev/null ||
  skip "the report needs Debian's python3-scipy and python3-matplotlib (launch/setup.sh installs them)"

make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
source "$SRC/tests/e2e/lib/study_file.bash"
tiny_study_file "$WORK/tiny.ini" "$WORK/runs" "$WORK/c.h5"

"$ALIBI" study plan "$WORK/tiny.ini" >"$WORK/plan.out" || { cat "$WORK/plan.out" >&2; fail "study plan failed"; }
[[ $(grep -cE '^ *[sml]_position-(alibi|sinusoidal) ' "$WORK/plan.out") -eq 6 ]] ||
  { cat "$WORK/plan.out" >&2; fail "plan does not list the 6 runs"; }
[[ ! -e $WORK/runs ]] || fail "study plan created $WORK/runs"

t0=$EPOCHREALTIME
"$ALIBI" study run "$WORK/tiny.ini" --local >"$WORK/run1.out" 2>&1 || { cat "$WORK/run1.out" >&2; fail "study run --local failed"; }
echo "study run --local: 6 runs trained and evaluated in $(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')") s"
[[ $(grep -c ': training ' "$WORK/run1.out") -eq 6 && $(grep -c ': evaluating ' "$WORK/run1.out") -eq 6 ]] ||
  { cat "$WORK/run1.out" >&2; fail "expected 6 trainings and 6 evaluations"; }

# Again: every run's final checkpoint and eval file exist, so nothing runs.
stamp() { stat -c '%n %Y %s' "$WORK"/runs/*/step_*.h5 "$WORK"/runs/*/eval_*.json "$WORK"/runs/*/metrics.jsonl; }
stamp >"$WORK/before"
"$ALIBI" study run "$WORK/tiny.ini" --local >"$WORK/run2.out" 2>&1 || { cat "$WORK/run2.out" >&2; fail "second run failed"; }
! grep -qE ': (training|evaluating) ' "$WORK/run2.out" || { cat "$WORK/run2.out" >&2; fail "the second run redid work"; }
stamp | diff "$WORK/before" - >/dev/null || fail "the second run changed a run's files"
echo "ok: run again: all 6 runs skipped, no file changed"

"$ALIBI" study status "$WORK/tiny.ini" >"$WORK/status.out"
grep -q "6 of 6 runs done" "$WORK/status.out" || { cat "$WORK/status.out" >&2; fail "status does not say 6 of 6 done"; }

"$ALIBI" study report "$WORK/tiny.ini" >"$WORK/report.out" 2>&1 || { cat "$WORK/report.out" >&2; fail "report failed"; }
for f in report.csv report.md loss_vs_params.png loss_vs_flops.png ppl_vs_length_nonoverlapping.png extrapolation_ratio.png; do
  [[ -s $WORK/runs/$f ]] || fail "report did not write $f"
done
grep -q "position=alibi, against N (parameters): E = " "$WORK/runs/report.md" || fail "report.md has no fit for alibi"
/usr/bin/python3 "$SRC/tests/e2e/lib/check_study_report.py" "$WORK/runs" || fail "the report's numbers differ from the runs' files"

# ---- bad input: one line, before anything starts (no run directory appears) -------------
bad() {  # bad NAME PATTERN SED-EXPRESSION: the tiny study edited by SED must fail with PATTERN
  local name=$1 pattern=$2
  sed -e "$3" -e "s|^out = .*|out = $WORK/bad-$name|" "$WORK/tiny.ini" >"$WORK/$name.ini"
  expect_error "$name" "$pattern" "$ALIBI" study run "$WORK/$name.ini" --local
  [[ ! -e $WORK/bad-$name ]] || fail "$name: $WORK/bad-$name was created"
}
line=$(grep -n '^heads' "$WORK/tiny.ini" | cut -d: -f1)
bad unknown_option "unknown.*\.ini:$line: unknown option 'hedas' in \[base\]" 's/^heads/hedas/'
bad invalid_model "run 's_heads-3_position-alibi' .*--heads 3 does not divide --channels 16" \
  's/^\[axes\]/[axes]\nheads = 2, 3/; /^heads = 2$/d'
bad gpu_memory "run 'l_position-alibi' .*does not fit gpu-memory-gb 1: alibi plan predicts" \
  's/^\[study\]/[study]\ngpu-memory-gb = 1/; s/^channels = 32/channels = 2048\nlayers = 25\nheads = 16\nvocab = 50257/; /^layers = 2$/d'
bad no_corpus "run 's_position-alibi': data $WORK/none.h5: no such corpus" "s|^data = .*|data = $WORK/none.h5|"
echo "ok: alibi study: local run, idempotent re-run, status, report, bad inputs"
