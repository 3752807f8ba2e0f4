# The watchdog over NCCL (parallel/nccl_comm.cpp, NcclWatch): SIGSTOP rank 1 of
# `mpirun -np 2 alibi train --device cuda` (dp=2, then pp=2) with --timeout-minutes 0.05
# (3 s). Rank 0's DP all-reduce or pipeline message is then an NCCL operation that never
# completes, and its host blocks at the next synchronisation, where no MPI wait sees it.
# The job must end as a stopped CPU job does (tests/e2e/lib/watchdog.bash): within
# seconds, status 75, one line naming the operation, the step and rank 1. Needs two GPUs
# (one per NCCL rank): without them it is SKIPPED to ctest, never passed.
source "$(dirname "$0")/../e2e/lib/common.bash"
source "$(dirname "$0")/../e2e/lib/watchdog.bash"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c "^GPU" || true)
[[ ${gpus:-0} -ge 2 ]] || skip "watchdog_nccl needs 2 GPUs, one per NCCL rank (found ${gpus:-0})"
make_watchdog_corpus
args=(--data "$WORK/c.h5" --device cuda --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2
      --grad-accum 2 --steps 100000 --warmup 10 --save-every 0 --eval-every 0 --eval-batches 2 --log-every 1000
      --timeout-minutes $timeout_minutes)
# The NCCL watch or, when rank 0's host reaches an MPI call first, the MPI watchdog.
train_and_stop_rank_1 nccl-dp2 "(dp|world) (all-reduce|reduce-scatter|all-gather)"
train_and_stop_rank_1 nccl-pp2 "(pp (recv from|send to) pp rank 1|(world|embedding|dp) all-reduce)" --pp 2
# Either watchdog may end one case, but a test of the NCCL watch must see it fire: in the
# DP case the gradient all-reduce runs on the side stream, where only NcclWatch looks.
cat "$WORK/nccl-dp2.err" "$WORK/nccl-pp2.err" | grep -q "alibi: watchdog: .*(NCCL" ||
  fail "neither case ended by the NCCL watch (no '(NCCL' in a watchdog line); see $WORK/nccl-dp2.err, $WORK/nccl-pp2.err"
echo "ok: watchdog_nccl"
