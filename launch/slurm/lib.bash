# Shared body of the sbatch scripts in launch/slurm/: where the run lives, the layout
# check, the environment, and one training step that survives preemption:
#
#   SIGUSR1 (--signal=B:USR1@120) -> forwarded to the step -> every rank checkpoints at
#   the next step boundary and exits 0 -> scontrol requeue -> the job starts again and
#   runs `alibi train ... --resume auto` from the newest checkpoint in the same out-dir.
#
# Sourced by the batch shell (sbatch copies only the script itself into its spool
# directory, so the scripts find this file under ALIBI_ROOT, default the submit
# directory). Functions prefixed slurm_; everything runs under `set -euo pipefail`.

# ---- where: repository, binary, run directory ---------------------------------------

# slurm_die MESSAGE: print to the job's log and end the job without a requeue.
slurm_die() {
  echo "alibi-slurm: error: $*" >&2
  if [[ -n ${TRAIN_LOG:-} ]]; then echo "alibi-slurm: error: $*" >>"$TRAIN_LOG"; fi
  exit 2
}

# slurm_log MESSAGE: to the job's output and, once the out-dir is known, to its train.log.
TRAIN_LOG=""
slurm_log() {
  local line
  line="alibi-slurm [$(date '+%F %T')] $*"
  echo "$line"
  if [[ -n $TRAIN_LOG ]]; then echo "$line" >>"$TRAIN_LOG"; fi
}

# slurm_has_option NAME ARGS...: whether ARGS give --NAME (as "--NAME V" or "--NAME=V").
slurm_has_option() {
  local name=$1 a
  shift
  for a in "$@"; do [[ $a == "--$name" || $a == "--$name="* ]] && return 0; done
  return 1
}

# slurm_setup_run ARGS...: checks the alibi train options given to the sbatch script and
# sets the globals
#   ALIBI_BIN    the binary (default $ALIBI_ROOT/${ALIBI_BUILD_DIR:-build}/launch/alibi)
#   OUT_DIR      checkpoints, metrics.jsonl and logs: --out-dir when given, else
#                ${ALIBI_RUNS:-$SLURM_SUBMIT_DIR/runs}/$SLURM_JOB_NAME. Keyed by the job
#                NAME, not its id: a requeued job keeps its id anyway, and a job
#                resubmitted by hand under the same name finds its checkpoints too.
#   TRAIN_ARGS   the options for `alibi train`, with --out-dir and --resume auto added
#   TP PP DP     the layout: tp and pp from the options (or the --config INI), dp from
#                the allocation: SLURM_NTASKS / (tp * pp)
slurm_setup_run() {
  [[ -n ${SLURM_JOB_ID:-} ]] || slurm_die "not inside a SLURM job: submit with sbatch (see README, 'Clusters (SLURM)')"
  ALIBI_BIN=${ALIBI_BIN:-$ALIBI_ROOT/${ALIBI_BUILD_DIR:-build}/launch/alibi}
  [[ -x $ALIBI_BIN ]] || slurm_die "$ALIBI_BIN is not built: run launch/build.sh on a node (or set ALIBI_BIN)"

  local out_dir="" config="" tp="" pp="" a i
  local -a args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[i]}
    case $a in
      --out-dir=*) out_dir=${a#*=} ;;
      --out-dir) out_dir=${args[i + 1]:-} ;;
      --config=*) config=${a#*=} ;;
      --config) config=${args[i + 1]:-} ;;
      --tp=*) tp=${a#*=} ;;
      --tp) tp=${args[i + 1]:-} ;;
      --pp=*) pp=${a#*=} ;;
      --pp) pp=${args[i + 1]:-} ;;
      --resume | --resume=*)
        slurm_die "--resume is set by this script (--resume auto, so a requeued job continues); to start from" \
          "another run's checkpoint, copy it into the out-dir first" ;;
    esac
  done
  # tp and pp from the INI when the command line does not give them (the command line wins).
  if [[ -n $config && -r $config ]]; then
    [[ -n $tp ]] || tp=$(sed -n 's/^[[:space:]]*tp[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$config" | tail -1)
    [[ -n $pp ]] || pp=$(sed -n 's/^[[:space:]]*pp[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$config" | tail -1)
  fi
  TP=${tp:-1}
  PP=${pp:-1}
  local world=${SLURM_NTASKS:?SLURM_NTASKS is unset: give --ntasks or --ntasks-per-node}
  (((TP * PP) > 0 && world % (TP * PP) == 0)) ||
    slurm_die "world = tp*pp*dp fails: $world tasks are not a multiple of --tp $TP x --pp $PP;" \
      "ask for a multiple of tp*pp tasks (sbatch --ntasks / --ntasks-per-node)"
  DP=$((world / (TP * PP)))

  if [[ -z $out_dir ]]; then
    out_dir=${ALIBI_RUNS:-$SLURM_SUBMIT_DIR/runs}/$SLURM_JOB_NAME
    args+=(--out-dir "$out_dir")
  fi
  OUT_DIR=$out_dir
  mkdir -p "$OUT_DIR/logs"
  TRAIN_LOG=$OUT_DIR/train.log
  TRAIN_ARGS=("${args[@]}" --resume auto)
}

# ---- environment ----------------------------------------------------------------------

# slurm_cpu_env: one OpenMP thread per CPU of the task, kept on the task's cores. The
# OpenMP build of OpenBLAS follows OMP_NUM_THREADS (never mix it with pthread BLAS).
slurm_cpu_env() {
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  export OMP_PLACES=${OMP_PLACES:-cores} OMP_PROC_BIND=${OMP_PROC_BIND:-close}
}

# slurm_nccl_env: NCCL defaults for the GPU scripts; a value already set is kept.
slurm_nccl_env() {
  # CUDA's lazy module loading can deadlock: a kernel first loaded while NCCL spins in a
  # receive waits for that receive. Load every kernel at start (forced: no safe other value).
  export CUDA_MODULE_LOADING=EAGER
  export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
  # One file per process when debugging (NCCL_DEBUG=INFO): %h host, %p pid.
  export NCCL_DEBUG_FILE=${NCCL_DEBUG_FILE:-$OUT_DIR/logs/nccl.%h.%p.log}
  # Multi-node bootstrap must not pick the loopback or a container bridge; set
  # NCCL_SOCKET_IFNAME=ib0 (or the cluster's data interface) when the guess is wrong.
  export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-^lo,docker}
  # Fail a stuck collective instead of hanging until the time limit.
  export NCCL_IB_TIMEOUT=${NCCL_IB_TIMEOUT:-22}
}

# ---- the launcher -----------------------------------------------------------------------

# slurm_launcher [PREFIX...]: sets LAUNCH, the command that starts one rank per task of
# the allocation (PREFIX, e.g. a GPU-binding wrapper, goes before the binary) running
# `alibi ${ALIBI_COMMAND:-train}` (eval.sbatch sets eval).
#   ALIBI_LAUNCHER=srun (default): srun --mpi=pmix. slurm 22.05's srun does not inherit
#     --cpus-per-task from sbatch, so it is passed again; --kill-on-bad-exit ends every
#     rank when one dies (a hard fault ends the job; alibi's own errors MPI_Abort anyway).
#   ALIBI_LAUNCHER=mpirun: Open MPI's mpirun reads the allocation itself (hosts, slots);
#     each rank is bound to cpus-per-task cores. $ALIBI_MPIRUN_ARGS is appended.
slurm_launcher() {
  local cpt=${SLURM_CPUS_PER_TASK:-1}
  case ${ALIBI_LAUNCHER:-srun} in
    srun)
      LAUNCH=(srun --mpi=pmix --ntasks="$SLURM_NTASKS" --cpus-per-task="$cpt" --cpu-bind=cores
              --kill-on-bad-exit=1 ${ALIBI_SRUN_ARGS:-} "$@" "$ALIBI_BIN" "${ALIBI_COMMAND:-train}") ;;
    mpirun)
      local -a exports=(-x OMP_NUM_THREADS -x OMP_PLACES -x OMP_PROC_BIND -x PATH)
      [[ -z ${LD_LIBRARY_PATH:-} ]] || exports+=(-x LD_LIBRARY_PATH)
      [[ -z ${NCCL_DEBUG:-} ]] || exports+=(-x NCCL_DEBUG -x NCCL_DEBUG_FILE -x NCCL_SOCKET_IFNAME -x NCCL_IB_TIMEOUT
                                            -x CUDA_MODULE_LOADING)
      LAUNCH=(mpirun -np "$SLURM_NTASKS" --map-by "slot:PE=$cpt" --bind-to core "${exports[@]}"
              ${ALIBI_MPIRUN_ARGS:-} "$@" "$ALIBI_BIN" "${ALIBI_COMMAND:-train}") ;;
    *) slurm_die "ALIBI_LAUNCHER=${ALIBI_LAUNCHER}: use srun or mpirun" ;;
  esac
}

# ---- one training step that survives preemption --------------------------------------

STOP_SIGNAL=""
STEP_PID=""

# The batch shell's handler: remember the signal and pass SIGUSR1 to the step's launcher.
# srun forwards it to every task; Open MPI's mpirun forwards SIGUSR1 and SIGUSR2 to its
# ranks. alibi treats SIGUSR1 and SIGTERM alike: the ranks agree at the next step
# boundary, write a checkpoint and exit 0.
slurm_on_signal() {
  STOP_SIGNAL=$1
  slurm_log "SIG$1 received: asking the training step to checkpoint and stop"
  if [[ -n $STEP_PID ]]; then kill -USR1 "$STEP_PID" 2>/dev/null || true; fi
}

# slurm_train: runs LAUNCH + TRAIN_ARGS, its output appended to $OUT_DIR/train.log and
# copied to the job's own output (sbatch --output); on SIGUSR1 waits for the checkpoint,
# then requeues the job. Returns the step's status (0 after a requeue).
slurm_train() {
  local log=$TRAIN_LOG restart=${SLURM_RESTART_COUNT:-0}
  trap 'slurm_on_signal USR1' USR1
  # SIGTERM: scancel, the time limit, or preemption. SLURM signals the step's tasks
  # itself too; forwarding does no harm. No requeue of our own here: a preempted job
  # is requeued by SLURM (PreemptMode=REQUEUE), a cancelled one must stay cancelled.
  trap 'slurm_on_signal TERM' TERM
  slurm_log "job $SLURM_JOB_ID ($SLURM_JOB_NAME), start $((restart + 1)) on $(hostname):" \
    "$SLURM_NTASKS ranks on ${SLURM_JOB_NUM_NODES:-1} node(s), layout tp=$TP pp=$PP dp=$DP," \
    "OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}"
  slurm_log "out-dir $OUT_DIR (train.log, metrics.jsonl, step_*.h5)"
  slurm_log "${LAUNCH[*]} ${TRAIN_ARGS[*]}"

  local rc=0
  if [[ -z $STOP_SIGNAL ]]; then
    # The step's output goes through one tee into both logs; the tee is waited for below,
    # so train.log is complete before it is read.
    local out tee_pid
    exec {out}> >(tee -a "$log")
    tee_pid=$!
    # In the background, so that the batch shell runs its trap while the step runs (bash
    # defers traps until a foreground command ends; `wait` returns at once instead).
    "${LAUNCH[@]}" "${TRAIN_ARGS[@]}" >&"$out" 2>&1 &
    STEP_PID=$!
    # A signal that came while the step was being started is passed on now.
    if [[ -n $STOP_SIGNAL ]]; then kill -USR1 "$STEP_PID" 2>/dev/null || true; fi
    while :; do
      rc=0
      wait "$STEP_PID" || rc=$?
      # A trapped signal interrupts `wait` (status > 128) while the step still runs; an
      # exited but unreaped step still answers kill -0, and the next wait reaps it.
      kill -0 "$STEP_PID" 2>/dev/null || break
    done
    STEP_PID=""
    exec {out}>&-
    wait "$tee_pid" || true
  fi

  if [[ $STOP_SIGNAL == USR1 ]]; then
    local last; last=$(tail -n 20 "$log")
    if [[ $rc -eq 0 && $last != *"stopped at step"* ]]; then
      # The run reached --steps while the signal was on its way: nothing is left to do.
      slurm_log "the run finished before the signal took effect; no requeue"
      return 0
    fi
    # rc != 0: the step died on the way (e.g. the signal reached a rank before it was
    # ready for it); the newest periodic checkpoint is still there to resume from.
    slurm_log "training step ended with status $rc after SIGUSR1; requeueing job $SLURM_JOB_ID" \
      "(it continues with --resume auto)"
    scontrol requeue "$SLURM_JOB_ID" ||
      slurm_die "scontrol requeue $SLURM_JOB_ID failed: submit with --requeue (and JobRequeue allowed)"
    return 0
  fi
  if [[ $STOP_SIGNAL == TERM ]]; then
    # Cancelled, out of time, or preempted: the ranks checkpointed if they had the time
    # (KillWait); a preempted job is requeued by SLURM, anything else is resubmitted by
    # hand under the same --job-name and resumes from the same out-dir.
    slurm_log "training step ended with status $rc after SIGTERM; not requeued by this script;" \
      "resubmit with --job-name=$SLURM_JOB_NAME to continue from the newest checkpoint"
  elif [[ $rc -eq 75 ]]; then
    # 75 (kExitRequeue, runtime/error.h): a failure a requeue can fix once its cause is gone:
    # the checkpoint directory full, read-only or vanished, or a rank that stopped answering
    # (the watchdog, --timeout-minutes). Held, not ended: the job keeps its id, name and
    # out-dir, and `scontrol release` after the fix resumes it from the newest checkpoint.
    slurm_log "training step ended with status 75 (requeue after fixing; see the 'alibi:' line in $log):" \
      "holding job $SLURM_JOB_ID in the queue; fix the cause, then: scontrol release $SLURM_JOB_ID"
    scontrol requeuehold "$SLURM_JOB_ID" ||
      slurm_die "scontrol requeuehold $SLURM_JOB_ID failed: submit with --requeue (and JobRequeue allowed)"
    return 0
  elif [[ $rc -ne 0 ]]; then
    slurm_log "training step failed with status $rc; see $log; resubmitting with" \
      "--job-name=$SLURM_JOB_NAME continues from the newest checkpoint"
  else
    slurm_log "training complete"
  fi
  return "$rc"
}
