# The collective watchdog: SIGSTOP one rank of `mpirun -np 2 alibi train` (a stuck node:
# alive, silent) with --timeout-minutes 0.05 (3 s). The job must end within the timeout
# plus a few seconds, with status 75 (requeue once fixed) and exactly one watchdog line
# that names the operation, the step and rank 1 as the rank that never arrived. Two
# layouts: dp=2 (the other rank waits in a DP all-reduce, or the step's loss sum) and
# pp=2 (mostly a pipeline message from stage 1). Without the watchdog the job would wait forever (the
# 60 s guard below turns that into a failure).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
make_text_corpus "$WORK/text" 4
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
timeout_minutes=0.05  # 3 s
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --grad-accum 2
      --steps 100000 --warmup 10 --save-every 0 --eval-every 0 --eval-batches 2 --log-every 1000
      --timeout-minutes $timeout_minutes)
seconds_since() { python3 -c "print(f'{$EPOCHREALTIME - $1:.1f}')"; }

# stop_rank_1 NAME PATTERN TRAIN_OPTIONS...: runs the job, stops rank 1 once 20 steps are
# logged, checks how the job ends. PATTERN: what the line must say about the operation.
stop_rank_1() {
  local name=$1 pattern=$2
  shift 2
  local run=$WORK/$name
  mpirun -np 2 --oversubscribe "$ALIBI" train "${args[@]}" "$@" --out-dir "$run" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local mpirun_pid=$!
  for _ in $(seq 1200); do
    [[ $({ wc -l <"$run/metrics.jsonl"; } 2>/dev/null || echo 0) -ge 20 ]] && break
    kill -0 $mpirun_pid 2>/dev/null || break
    sleep 0.05
  done
  kill -0 $mpirun_pid 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "$name: the run ended before rank 1 was stopped"; }
  local victim; victim=$(rank_pid "--out-dir $run" 1)
  [[ -n $victim ]] || fail "$name: rank 1's process not found"
  local t0=$EPOCHREALTIME code=0
  kill -STOP "$victim"
  for _ in $(seq 600); do kill -0 $mpirun_pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $mpirun_pid 2>/dev/null; then
    kill -KILL "$victim" $mpirun_pid 2>/dev/null || true
    fail "$name: mpirun still running 60 s after rank 1 was stopped (--timeout-minutes $timeout_minutes)"
  fi
  wait $mpirun_pid || code=$?
  local seconds; seconds=$(seconds_since "$t0")
  kill -KILL "$victim" 2>/dev/null || true
  [[ $code -eq 75 ]] || { cat "$WORK/$name.err" >&2; fail "$name: mpirun exited $code, expected 75 (requeue)"; }
  # 3 s of timeout, 2 s of answers, the abort; generous for a loaded two-core box.
  python3 -c "import sys; sys.exit(0 if $seconds < 15 else 1)" || fail "$name: the job took $seconds s to end, expected < 15 s"
  local lines; lines=$(grep -c "alibi: watchdog:" "$WORK/$name.err" || true)
  [[ $lines -eq 1 ]] || { cat "$WORK/$name.err" >&2; fail "$name: $lines watchdog lines, expected exactly 1"; }
  grep "alibi: watchdog:" "$WORK/$name.err" | grep -qE -e "$pattern.* at step [0-9]+ .*: rank 1 \(no answer.*\) never arrived" ||
    { cat "$WORK/$name.err" >&2; fail "$name: the watchdog line does not name /$pattern/, the step and rank 1"; }
  [[ -z $(pgrep -f -- "--out-dir $run" || true) ]] || fail "$name: processes left after the job ended"
  echo "ok: $name: SIGSTOP of rank 1 ended the job in $seconds s with status $code: $(grep "alibi: watchdog:" "$WORK/$name.err")"
}

stop_rank_1 dp2 "(dp|world) all-reduce"
# Stage 0 most often waits for stage 1's gradients; it may also be in the step's loss sum.
stop_rank_1 pp2 "(pp (recv from|send to) pp rank 1|world all-reduce|embedding all-reduce)" --pp 2
echo "ok: watchdog"
