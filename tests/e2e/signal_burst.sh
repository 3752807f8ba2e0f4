# A burst of stop signals at a training run: 3000 SIGUSR1 while it trains must end it as one
# does, at the next step boundary with a checkpoint and exit 0. When an asynchronous handler
# took the signals (before runtime/stop_signals.h), this corrupted the heap every time (glibc
# "corrupted size vs. prev_size", "double free or corruption"; exit 134), and a single signal
# now and then did the same under load (e2e.preemption_soak, e2e.slurm). Then a command that
# does not stop gracefully (generate) must still be ended by SIGTERM, as by default.
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
"$ALIBI" train --data "$WORK/c.h5" --layers 2 --channels 256 --heads 4 --seq-len 128 --micro-batch 8 --steps 100000 \
  --warmup 5 --save-every 0 --eval-every 0 --log-every 1 --out-dir "$WORK/run" >"$WORK/train.out" 2>&1 &
pid=$!
for _ in $(seq 3000); do
  [[ -s $WORK/run/metrics.jsonl ]] && break
  kill -0 $pid 2>/dev/null || { cat "$WORK/train.out" >&2; fail "training ended before its first step"; }
  sleep 0.01
done
for _ in $(seq 3000); do kill -USR1 $pid 2>/dev/null || break; done
code=0
wait $pid || code=$?
((code == 0)) || { tail -30 "$WORK/train.out" >&2; fail "train: exit $code after a burst of SIGUSR1, expected 0"; }
stop=$(sed -n 's/^stopped at step \([0-9]*\) on a signal.*/\1/p' "$WORK/train.out")
[[ -n $stop && -f $WORK/run/step_$(printf %08d "$stop").h5 ]] ||
  { cat "$WORK/train.out" >&2; fail "train: no checkpoint of the step it stopped at"; }
echo "ok: 3000 x SIGUSR1 -> stopped at step $stop, checkpoint saved, exit 0"

"$ALIBI" generate --checkpoint "$WORK/run/step_$(printf %08d "$stop").h5" --prompt "The" --max-new-tokens 1000000 \
  >"$WORK/gen.out" 2>&1 &
pid=$!
sleep 2
kill -TERM $pid
code=0
wait $pid || code=$?
((code == 143)) || { cat "$WORK/gen.out" >&2; fail "generate: exit $code after SIGTERM, expected 143 (ended by the signal)"; }
echo "ok: generate ended by SIGTERM (143)"
