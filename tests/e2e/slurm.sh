# Preemption under a real SLURM: a private single-node cluster (munged, slurmctld, slurmd
# on localhost, own ports, own munge socket, everything under this test's temp dir) runs
# launch/slurm/cpu_single_node.sbatch with 2 tasks (dp = 2). Mid-training the batch shell
# gets the warning signal (as from --signal=B:USR1@120), forwards it to the ranks, which
# checkpoint and exit 0; the script requeues the job, which resumes with --resume auto
# and finishes. The metrics then read as one run, equal to an uninterrupted mpirun -np 2
# run of the same command outside SLURM: every step's logged values, and the final
# checkpoint's model and optimizer state bit for bit.
# Installs slurm-wlm and munge when missing (root and apt needed; else skipped: exit 77).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1

source "$(dirname "$0")/lib/slurm_cluster.bash"

# ---- the reference: the same training, uninterrupted, outside SLURM ------------------
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
steps=500
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --steps $steps
      --warmup 10 --save-every 400 --keep 0 --eval-every 0 --eval-batches 2 --log-every 200)
t0=$EPOCHREALTIME
mpirun -np 2 --oversubscribe "$ALIBI" train "${args[@]}" --out-dir "$WORK/ref" >"$WORK/ref.out" 2>&1 ||
  { cat "$WORK/ref.out" >&2; fail "the reference run under mpirun failed"; }
echo "reference run (mpirun -np 2): $(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')") s"

slurm_wait_idle

# ---- the SLURM job: signal mid-training, requeue, resume -----------------------------
export ALIBI_ROOT=$SRC ALIBI_BIN=$(realpath "$ALIBI") ALIBI_RUNS=$WORK/runs
cd "$WORK"

# preempted_job LAUNCHER: submits the one-node CPU script with ALIBI_LAUNCHER=LAUNCHER
# (srun --mpi=pmix, or mpirun inside the allocation), sends the batch shell SIGUSR1
# mid-training, and checks requeue, resume, the losses and the final checkpoint.
preempted_job() {
  local launcher=$1 name=e2e-$1 t0=$EPOCHREALTIME jid
  jid=$(ALIBI_LAUNCHER=$launcher sbatch --parsable --job-name="$name" --ntasks=2 --cpus-per-task=1 --time=10 \
    "$SRC/launch/slurm/cpu_single_node.sbatch" "${args[@]}") || fail "sbatch failed"
  local out=$WORK/$name-$jid.out   # #SBATCH --output=%x-%j.out, in the submit directory
  local run=$WORK/runs/$name       # the out-dir, keyed by the job name
  metrics_lines() { { wc -l <"$run/metrics.jsonl"; } 2>/dev/null || echo 0; }
  # Signal once the ranks are training (their handlers are installed before step 1).
  for _ in $(seq 600); do
    [[ $(metrics_lines) -ge 100 ]] && break
    [[ -n $(squeue -h -j "$jid" -o %T 2>/dev/null) ]] || break
    sleep 0.1
  done
  local lines; lines=$(metrics_lines)
  [[ $lines -ge 100 && $lines -lt $steps ]] ||
    { cat "$out" >&2; fail "$launcher: expected the job to be training (metrics lines: $lines)"; }
  scancel --batch --signal=USR1 "$jid" || fail "scancel --batch --signal=USR1 $jid failed"
  echo "$launcher: sent SIGUSR1 to the batch shell of job $jid at metrics line $lines"

  local state=""
  for _ in $(seq 600); do
    state=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED || $state == TIMEOUT ]] && break
    sleep 0.25
  done
  local seconds; seconds=$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')")
  [[ $state == COMPLETED ]] || { cat "$out" >&2; fail "$launcher: job $jid ended $state, expected COMPLETED"; }
  local restarts; restarts=$(scontrol show job "$jid" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  [[ $restarts == 1 ]] || { cat "$out" >&2; fail "$launcher: job $jid restarted $restarts times, expected 1"; }
  echo "$launcher: job $jid COMPLETED after 1 requeue, $seconds s from submission"

  # The job's output (appended to across the requeue) and the run's own log tell the story.
  local f pattern
  for f in "$out" "$run/train.log"; do
    [[ -s $f ]] || fail "$f is missing"
    for pattern in "SIGUSR1 received" "stopped at step [0-9]+ on a signal" "requeueing job $jid" \
                   "start 2 on" "resumed from .*step_[0-9]+\.h5 at step [0-9]+" "training complete"; do
      grep -qE -e "$pattern" "$f" || { cat "$f" >&2; fail "$launcher: $f: no line matching /$pattern/"; }
    done
  done
  local stop; stop=$(sed -n 's/.*stopped at step \([0-9]*\) on a signal.*/\1/p' "$out")
  grep -qE "resumed from $run/step_0*$stop\.h5 at step $stop$" "$out" ||
    { cat "$out" >&2; fail "$launcher: the restart did not resume from the checkpoint of step $stop"; }
  ((stop > 0 && stop < steps)) || fail "$launcher: stopped at step $stop, expected mid-training"
  [[ -f $run/step_$(printf %08d "$stop").h5 && -f $run/step_$(printf %08d $steps).h5 ]] ||
    fail "$launcher: checkpoints of steps $stop and $steps missing in $run"
  echo "ok: $launcher: SIGUSR1 -> checkpoint at step $stop -> requeue -> resumed at step $stop -> $steps steps"

  # The same layout and thread count make resume bit-exact, so the requeued job equals
  # the uninterrupted run at every step and in every tensor; any difference is a bug.
  expect_same_metrics "$run/metrics.jsonl" "$WORK/ref/metrics.jsonl" $steps
  expect_same_checkpoint "$run/step_$(printf %08d $steps).h5" "$WORK/ref/step_$(printf %08d $steps).h5"
}

# stuck_rank_job LAUNCHER: a rank stopped (SIGSTOP: a stuck node) under the watchdog
# (--timeout-minutes 0.05 = 3 s): the step ends with status 75, and the batch script holds
# the job in the queue (requeue after fixing), neither completed nor failed.
stuck_rank_job() {
  local launcher=$1 name=e2e-stuck-$1 jid
  jid=$(ALIBI_LAUNCHER=$launcher sbatch --parsable --job-name="$name" --ntasks=2 --cpus-per-task=1 --time=10 \
    "$SRC/launch/slurm/cpu_single_node.sbatch" --data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 \
    --micro-batch 2 --steps 100000 --save-every 0 --eval-every 0 --log-every 1000 --timeout-minutes 0.05) ||
    fail "sbatch failed"
  local out=$WORK/$name-$jid.out run=$WORK/runs/$name victim=""
  for _ in $(seq 600); do
    [[ $({ wc -l <"$run/metrics.jsonl"; } 2>/dev/null || echo 0) -ge 20 ]] && victim=$(rank_pid "--out-dir $run" 1)
    [[ -n $victim ]] && break
    [[ -n $(squeue -h -j "$jid" -o %T 2>/dev/null) ]] || break
    sleep 0.1
  done
  [[ -n $victim ]] || { cat "$out" >&2; fail "$launcher: rank 1 of job $jid not found training"; }
  kill -STOP "$victim"
  local state="" reason=""
  for _ in $(seq 240); do
    state=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    reason=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p')
    [[ $state == PENDING && ${reason,,} == *held* ]] && break
    [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] && break
    sleep 0.25
  done
  kill -KILL "$victim" 2>/dev/null || true
  [[ $state == PENDING && ${reason,,} == *held* ]] ||
    { cat "$out" >&2; fail "$launcher: job $jid is $state ($reason), expected PENDING and held after status 75"; }
  grep -qE "alibi: watchdog: .* rank 1 .* never arrived" "$out" || { cat "$out" >&2; fail "$launcher: no watchdog line"; }
  grep -q "ended with status 75 .*holding job $jid" "$out" || { cat "$out" >&2; fail "$launcher: no 'holding job' line"; }
  scancel "$jid"
  echo "ok: $launcher: a stopped rank -> watchdog -> status 75 -> job $jid held in the queue ($reason)"
}

stuck_rank_job mpirun
stuck_rank_job srun
preempted_job srun     # srun --mpi=pmix: srun forwards the SIGUSR1 to its tasks
preempted_job mpirun   # Open MPI's mpirun inside the allocation forwards SIGUSR1 too
echo "ok: slurm preemption and requeue"
