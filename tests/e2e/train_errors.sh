# How a training run ends when something happens mid-way.
# - Divergence (a huge --lr): one error line naming the step and the fix; no checkpoint of
#   the non-finite weights, and metrics.jsonl stays valid JSON, so the advised
#   `--resume auto` starts from finite weights.
# - SIGTERM (preemption, scancel): the run checkpoints at the next step boundary and exits
#   0; `--resume auto` continues from that checkpoint and ends exactly where an
#   uninterrupted run ends (same build and thread count).
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null

# every_value_finite FILE: each line of a metrics.jsonl parses as JSON with finite numbers
# (Python's json takes NaN and Infinity, which JSON does not; "-nan" it rejects itself).
every_value_finite() {
  python3 - "$1" <<'EOF'
import json, math, sys
def reject(name): raise ValueError(f"non-JSON constant {name}")
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        m = json.loads(line, parse_constant=reject)
    except ValueError as e:
        sys.exit(f"line {n}: {e}: {line.strip()}")
    bad = [k for k, v in m.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad: sys.exit(f"line {n}: {bad} not finite: {line.strip()}")
EOF
}

# ---- divergence ----------------------------------------------------------------------------
# An AdamW step moves each weight by about lr: at 1e6 the first step ruins the model and the
# second step's gradient overflows.
small=(--layers 2 --channels 16 --heads 2 --seq-len 16 --micro-batch 2 --warmup 1 --eval-batches 1)
expect_error diverged "diverged at step [0-9]+ \(loss .*gradient norm .*\); lower --lr or raise --warmup" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/div" "${small[@]}" --lr 1e6 --steps 10 --save-every 1 --keep 0
n=$(grep -oE 'diverged at step [0-9]+' "$WORK/diverged.err" | grep -oE '[0-9]+$')
grep -qiE 'nan|inf' "$WORK/diverged.err" || fail "the error names no non-finite value: $(cat "$WORK/diverged.err")"
for f in "$WORK/div"/step_*.h5; do
  k=$(basename "$f" .h5); k=$((10#${k#step_}))
  ((k < n)) || fail "a checkpoint of step $k was written, at or after the divergence at step $n"
done
newest=$(find "$WORK/div" -maxdepth 1 -name 'step_*.h5' | sort | tail -1)
[[ -n $newest ]] || fail "no checkpoint before the divergence at step $n (step 1 should have one)"
# h5dump prints non-finite floats as nan / -nan / inf.
bad=$(h5dump -g /model "$newest" | grep -ciwE 'nan|inf' || true)
[[ $bad -eq 0 ]] || fail "$newest, the checkpoint --resume auto would take, has $bad lines of non-finite weights"
every_value_finite "$WORK/div/metrics.jsonl" || fail "metrics.jsonl of the diverged run"
[[ $(wc -l <"$WORK/div/metrics.jsonl") -lt $n ]] || fail "metrics.jsonl holds the diverged step $n"
echo "ok: divergence stops at step $n; newest checkpoint $(basename "$newest") is finite"

# ---- SIGTERM -------------------------------------------------------------------------------
steps=100
args=(--data "$WORK/c.h5" --layers 2 --channels 64 --heads 4 --seq-len 64 --micro-batch 8 --steps $steps
      --warmup 5 --save-every 0 --keep 0 --eval-every 0 --eval-batches 1 --log-every 1000)
run=$WORK/term
"$ALIBI" train "${args[@]}" --out-dir "$run" >"$WORK/term.out" 2>&1 &
pid=$!
metrics_lines() { { wc -l <"$run/metrics.jsonl"; } 2>/dev/null || echo 0; }
for _ in $(seq 1200); do
  [[ $(metrics_lines) -ge 5 ]] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
kill -TERM $pid 2>/dev/null || { cat "$WORK/term.out" >&2; fail "the run ended before SIGTERM"; }
code=0
wait $pid || code=$?
[[ $code -eq 0 ]] || { cat "$WORK/term.out" >&2; fail "exit $code after SIGTERM, expected 0"; }
grep -qE 'stopped at step [0-9]+ on a signal' "$WORK/term.out" || { cat "$WORK/term.out" >&2; fail "no stop message"; }
k=$(grep -oE 'stopped at step [0-9]+' "$WORK/term.out" | grep -oE '[0-9]+$')
((k < steps)) || fail "the run finished (step $k) before SIGTERM reached it"
# --save-every 0: the only checkpoint is the one the signal wrote.
[[ $(ls "$run"/step_*.h5) == "$(printf '%s/step_%08d.h5' "$run" "$k")" ]] \
  || fail "expected exactly step_$(printf %08d "$k").h5 after SIGTERM, found: $(ls "$run")"
[[ $(wc -l <"$run/metrics.jsonl") -eq $k ]] || fail "metrics.jsonl should hold the $k steps done"

"$ALIBI" train --out-dir "$run" --resume auto >"$WORK/resume.out" || { cat "$WORK/resume.out" >&2; fail "resume failed"; }
grep -qE "resumed from .*step_$(printf %08d "$k")\.h5 at step $k\$" "$WORK/resume.out" \
  || { cat "$WORK/resume.out" >&2; fail "--resume auto did not start from the signal's checkpoint"; }
"$ALIBI" train "${args[@]}" --out-dir "$WORK/whole" >/dev/null
strip() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line); m.pop("tokens_per_s"); m.pop("elapsed_s"); print(json.dumps(m, sort_keys=True))' "$1"; }
diff <(strip "$WORK/whole/metrics.jsonl") <(strip "$run/metrics.jsonl") >/dev/null \
  || fail "the interrupted and resumed run's metrics differ from the uninterrupted run's"
h5diff "$WORK/whole/step_$(printf %08d $steps).h5" "$run/step_$(printf %08d $steps).h5" /model /model \
  || fail "final weights differ from the uninterrupted run's"
echo "ok: SIGTERM at step $k: checkpoint, exit 0; --resume auto ends bit-exact with the uninterrupted run"
