# A hard fault: SIGKILL one rank of `mpirun -np 2 alibi train` after a checkpoint exists.
# The whole job must end within 10 s (no rank left waiting in a collective). Then
# `--resume auto` restarts from the newest complete checkpoint, repeats only the steps
# after it, and ends where an uninterrupted run ends: the same loss at every step and
# the same final checkpoint, bit for bit (same layout and threads).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
steps=600
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --steps $steps
      --warmup 10 --save-every 100 --keep 0 --eval-every 0 --eval-batches 2 --log-every 100)
run=$WORK/killed   # unique: pgrep -f finds this job's processes by it
seconds_since() { python3 -c "print(f'{$EPOCHREALTIME - $1:.1f}')"; }

# ---- the fault ---------------------------------------------------------------------------
mpirun -np 2 --oversubscribe "$ALIBI" train "${args[@]}" --out-dir "$run" >"$WORK/killed.out" 2>&1 &
mpirun_pid=$!
metrics_lines() { { wc -l <"$run/metrics.jsonl"; } 2>/dev/null || echo 0; }
for _ in $(seq 1200); do
  [[ -f $run/step_00000100.h5 && $(metrics_lines) -ge 150 ]] && break
  kill -0 $mpirun_pid 2>/dev/null || break
  sleep 0.05
done
kill -0 $mpirun_pid 2>/dev/null || { cat "$WORK/killed.out" >&2; fail "the run ended before it could be killed"; }
lines=$(metrics_lines)
((lines < steps)) || fail "the run finished before it could be killed"

victim=$(rank_pid "--out-dir $run" 1)
[[ -n $victim ]] || fail "rank 1's process not found (pgrep -f -- '--out-dir $run')"
t0=$EPOCHREALTIME
kill -KILL "$victim"
code=0
# The job is given 60 s at most; the assertion below is 10 s.
for _ in $(seq 600); do kill -0 $mpirun_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $mpirun_pid 2>/dev/null; then
  kill -KILL $mpirun_pid
  fail "mpirun still running 60 s after rank 1 was killed"
fi
wait $mpirun_pid || code=$?
seconds=$(seconds_since "$t0")
[[ $code -ne 0 ]] || fail "mpirun exited 0 after a rank was killed"
python3 -c "import sys; sys.exit(0 if $seconds < 10 else 1)" || fail "the job took $seconds s to end, expected < 10 s"
left=$(pgrep -f -- "--out-dir $run" || true)
[[ -z $left ]] || fail "processes left after the job ended: $left"
echo "ok: SIGKILL of rank 1 (pid $victim) at metrics line $lines: mpirun exited $code after $seconds s, no rank left"

# ---- resume from the newest complete checkpoint ------------------------------------
newest=$(find "$run" -maxdepth 1 -name 'step_*.h5' | sort | tail -1)
[[ -n $newest ]] || fail "no checkpoint in $run"
k=$(basename "$newest" .h5)
k=$((10#${k#step_}))
# The logged steps up to k, timings included: the resumed run must not rewrite them.
python3 -c "
import json, sys
for line in open('$run/metrics.jsonl'):
    if json.loads(line)['step'] <= $k: print(line, end='')" >"$WORK/before.jsonl"
[[ $(wc -l <"$WORK/before.jsonl") -eq $k ]] || fail "metrics.jsonl should hold steps 1..$k before the resume"
mpirun -np 2 --oversubscribe "$ALIBI" train "${args[@]}" --out-dir "$run" --resume auto >"$WORK/resume.out" 2>&1 ||
  { cat "$WORK/resume.out" >&2; fail "the resumed run failed"; }
grep -q "resumed from $newest at step $k\$" "$WORK/resume.out" ||
  { cat "$WORK/resume.out" >&2; fail "expected 'resumed from $newest at step $k'"; }
head -n "$k" "$run/metrics.jsonl" | cmp -s - "$WORK/before.jsonl" ||
  fail "the resumed run rewrote the metrics of steps 1..$k (it should repeat only the steps after $k)"
[[ -f $run/step_$(printf %08d $steps).h5 ]] || fail "the resumed run wrote no final checkpoint"
echo "ok: resumed from step $k ($(basename "$newest")), ran steps $((k + 1))..$steps"

# ---- the same run as an uninterrupted one, bit for bit ---------------------------------
mpirun -np 2 --oversubscribe "$ALIBI" train "${args[@]}" --out-dir "$WORK/ref" >/dev/null 2>&1 ||
  fail "the uninterrupted reference run failed"
# Same layout and thread count: every step's logged values and the final model and
# AdamW state equal the uninterrupted run's exactly (a resume that lost the optimizer
# moments, the data position or the RNG would show in both).
expect_same_metrics "$run/metrics.jsonl" "$WORK/ref/metrics.jsonl" $steps
expect_same_checkpoint "$run/step_$(printf %08d $steps).h5" "$WORK/ref/step_$(printf %08d $steps).h5"
echo "ok: mpi kill"
