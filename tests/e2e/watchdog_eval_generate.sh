# The collective watchdog of `alibi eval` and `alibi generate` under mpirun (they meet in
# collectives too): SIGSTOP rank 1 of `mpirun -np 2 alibi eval` (dp=2: rank 0 waits in the
# windows' sum) and of `mpirun -np 2 alibi generate --tp 2` (rank 0 waits in a TP
# collective of the next token) with --timeout-minutes 0.05 (3 s). Each job must end as a
# stopped training job does (lib/watchdog.bash): within seconds, status 75, one line
# naming the operation, the length or token, and rank 1.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/watchdog.bash"
make_watchdog_corpus
"$ALIBI" train --data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --steps 2 \
  --save-every 0 --eval-every 0 --eval-batches 1 --out-dir "$WORK/run" >/dev/null
ck=$WORK/run/step_00000002.h5

# wait_for_output FILE BYTES PID: until FILE holds BYTES bytes (the job is in its loop) or
# the job has ended.
wait_for_output() {
  for _ in $(seq 1200); do
    [[ $({ wc -c <"$1"; } 2>/dev/null || echo 0) -ge $2 ]] && return
    kill -0 "$3" 2>/dev/null || return
    sleep 0.05
  done
}

# eval: 400 passes over the validation split at length 32; the first row printed means
# every rank is scoring. Rank 0 then finishes its windows and waits for rank 1's sum.
lengths=$(python3 -c "print(','.join(['32'] * 400))")
mpirun -np 2 --oversubscribe "$ALIBI" eval --checkpoint "$ck" --data "$WORK/c.h5" --lengths "$lengths" \
  --batch-tokens 64 --timeout-minutes $timeout_minutes --out "$WORK/evaljob/out" >"$WORK/eval.out" 2>"$WORK/eval.err" &
pid=$!
wait_for_output "$WORK/eval.out" 200 $pid
stop_rank_1_and_expect_watchdog eval "world all-reduce" length $pid "--out $WORK/evaljob/out"

# generate: an endless stream of tokens (a sliding window keeps the cache small); the
# first tokens on stdout mean both TP ranks are decoding.
cp "$ck" "$WORK/gen.h5"
mpirun -np 2 --oversubscribe "$ALIBI" generate --checkpoint "$WORK/gen.h5" --tp 2 --prompt "The scheduler" \
  --max-new-tokens 1000000 --max-context 64 --timeout-minutes $timeout_minutes >"$WORK/generate.out" 2>"$WORK/generate.err" &
pid=$!
wait_for_output "$WORK/generate.out" 20 $pid
stop_rank_1_and_expect_watchdog generate "tp [a-z-]+" token $pid "--checkpoint $WORK/gen.h5"

# The option is checked as train checks it.
expect_error eval-bad-timeout "--timeout-minutes must be in \[0, 1e6\)" \
  "$ALIBI" eval --checkpoint "$ck" --timeout-minutes -1
expect_error generate-bad-timeout "--timeout-minutes must be in \[0, 1e6\)" \
  "$ALIBI" generate --checkpoint "$ck" --prompt a --timeout-minutes -1
echo "ok: watchdog_eval_generate"
