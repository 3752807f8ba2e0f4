# Preemption soak: one small real run killed and resumed over and over, SIGTERM (a
# preemption, SIGUSR1 under mpirun: checkpoint at the next step boundary, exit 0) at random
# steps and SIGKILL (a lost node: nothing saved) at others, each time restarted with
# --resume auto, must end bit for bit where an uninterrupted run ends (every logged step,
# /model and /optimizer by h5diff), and no SIGTERM may lose a step: the next start resumes
# at the step it stopped.
# A SIGKILL loses only the steps since the newest periodic checkpoint.
# Small by default for the suite; bench/soak_preemption.sh runs it long:
#   SOAK_STEPS (150) SOAK_TERMS (3) SOAK_KILLS (1) SOAK_SAVE_EVERY (10) SOAK_SEED (1)
#   SOAK_MODEL (options of the model; a tiny one by default) SOAK_NP (1: serial; 2: mpirun)
#   SOAK_MARGIN (15): steps kept free after each signal's target, for it and each one to
#   come. The tiny model takes ~3 ms a step. The poll below uses builtins only and lands
#   its signal 1-2 steps past the target; the old one forked twice a look and landed 3-14
#   steps past it under load, so a start aimed near the end sometimes finished first and
#   the test failed with nothing wrong (CI, 2026-12-05).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
steps=${SOAK_STEPS:-150} terms=${SOAK_TERMS:-3} kills=${SOAK_KILLS:-1} save_every=${SOAK_SAVE_EVERY:-10}
np=${SOAK_NP:-1} margin=${SOAK_MARGIN:-15}
RANDOM=${SOAK_SEED:-1}
read -r -a model <<<"${SOAK_MODEL:---layers 2 --channels 64 --heads 4 --seq-len 64 --micro-batch 4}"
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
args=(--data "$WORK/c.h5" "${model[@]}" --steps "$steps" --warmup 5 --save-every "$save_every" --keep 2
      --eval-every 0 --eval-batches 2 --log-every 1000)
launch=("$ALIBI") stop_sig=TERM
# Under mpirun the graceful stop is SIGUSR1, as the SLURM scripts send it: Open MPI's mpirun
# forwards SIGUSR1 to the ranks and waits for them, but takes SIGTERM as "kill the job"
# (SIGTERM to the ranks ~0.3 s later, SIGKILL after a grace period, exit 1 whatever they do).
((np == 1)) || launch=(mpirun -np "$np" --oversubscribe "$ALIBI") stop_sig=USR1
t_start=$EPOCHREALTIME

"${launch[@]}" train "${args[@]}" --out-dir "$WORK/ref" >/dev/null 2>&1 || fail "the uninterrupted run failed"
final=step_$(printf %08d "$steps").h5

# The events in a random order: T (SIGTERM) or K (SIGKILL).
events=()
for _ in $(seq "$terms"); do events+=(T); done
for _ in $(seq "$kills"); do events+=(K); done
for ((i = ${#events[@]} - 1; i > 0; i--)); do
  j=$((RANDOM % (i + 1)))
  tmp=${events[i]} events[i]=${events[j]} events[j]=$tmp
done

run=$WORK/soak
# The steps logged so far, into $logged: builtins only (no fork per look), so the poll's
# signal follows the step it waits for closely.
logged_steps() {
  local -a lines=()
  [[ -f $run/metrics.jsonl ]] && mapfile -t lines <"$run/metrics.jsonl"
  logged=${#lines[@]}
}
exec {never}<> <(:)  # a pipe nobody writes: read -t on it is a sleep without a fork
n_event=0 expected_resume=""
for ev in "${events[@]}"; do
  n_event=$((n_event + 1))
  logged_steps
  start=$logged
  # A step between here and the end, leaving $margin steps after it for this event and each
  # one still to come.
  left=$((steps - start - margin * (${#events[@]} - n_event + 1)))
  ((left >= 1)) || fail "SOAK_STEPS $steps is too few for ${#events[@]} events of SOAK_MARGIN $margin steps from step $start"
  target=$((start + 1 + RANDOM % (left < 2 * save_every ? left : 2 * save_every)))
  "${launch[@]}" train "${args[@]}" --out-dir "$run" --resume auto >"$WORK/start$n_event.out" 2>&1 &
  pid=$!
  for ((poll = 0; poll < 50000; poll++)); do
    logged_steps
    ((logged >= target)) && break
    kill -0 $pid 2>/dev/null || break
    read -r -t 0.002 -u "$never" _ || true
  done
  kill -0 $pid 2>/dev/null || { cat "$WORK/start$n_event.out" >&2; fail "start $n_event ended before its signal"; }
  code=0
  if [[ $ev == T ]]; then
    # The ranks agree on the stop step.
    kill -$stop_sig $pid
    wait $pid || code=$?
    [[ $code -eq 0 ]] || { cat "$WORK/start$n_event.out" >&2; fail "start $n_event: exit $code after SIG$stop_sig, expected 0"; }
    # Its output is complete once it has exited (a killed start's buffered lines are lost).
    if [[ -n $expected_resume ]]; then
      grep -q "resumed from .*step_0*$expected_resume\.h5 at step $expected_resume\$" "$WORK/start$n_event.out" ||
        { cat "$WORK/start$n_event.out" >&2; fail "start $n_event did not resume at step $expected_resume"; }
    fi
    stop=$(sed -n 's/^stopped at step \([0-9]*\) on a signal.*/\1/p' "$WORK/start$n_event.out")
    [[ -n $stop && -f $run/step_$(printf %08d "$stop").h5 ]] ||
      { cat "$WORK/start$n_event.out" >&2; fail "start $n_event: no checkpoint of the step it stopped at"; }
    expected_resume=$stop  # SIGTERM loses nothing: the next start goes on from there
    echo "start $n_event: SIG$stop_sig at step $logged (target $target) -> stopped and saved at step $stop"
  else
    # SIGKILL to every process of the job (a lost node): nothing is saved.
    for p in $(pgrep -f -- "--out-dir $run") $pid; do kill -KILL "$p" 2>/dev/null || true; done
    wait $pid 2>/dev/null || true
    newest=$(find "$run" -maxdepth 1 -name 'step_*.h5' | sort | tail -1)
    expected_resume=""
    [[ -z $newest ]] || expected_resume=$((10#$(basename "$newest" .h5 | sed 's/step_//')))
    logged_steps
    lost=$((logged - ${expected_resume:-0}))
    ((lost <= save_every)) || fail "start $n_event: SIGKILL lost $lost steps, more than --save-every $save_every"
    echo "start $n_event: SIGKILL at step $logged (target $target) -> newest checkpoint step ${expected_resume:-none} ($lost steps to redo)"
  fi
done
"${launch[@]}" train "${args[@]}" --out-dir "$run" --resume auto >"$WORK/last.out" 2>&1 ||
  { cat "$WORK/last.out" >&2; fail "the last start failed"; }
if [[ -n $expected_resume ]]; then
  grep -q "resumed from .*step_0*$expected_resume\.h5 at step $expected_resume\$" "$WORK/last.out" ||
    fail "the last start did not resume at step $expected_resume"
fi
expect_same_metrics "$run/metrics.jsonl" "$WORK/ref/metrics.jsonl" "$steps"
expect_same_checkpoint "$run/$final" "$WORK/ref/$final"
echo "ok: preemption soak: $steps steps, $terms SIG$stop_sig + $kills SIGKILL (np $np), bit-exact, $(python3 -c "print(f'{$EPOCHREALTIME - $t_start:.0f}')") s"
