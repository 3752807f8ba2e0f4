# The collective watchdog: SIGSTOP one rank of `mpirun -np 2 alibi train` (a stuck node:
# alive, silent) with --timeout-minutes 0.05 (3 s). The job must end within the timeout
# plus a few seconds, with status 75 (requeue once fixed) and exactly one watchdog line
# that names the operation, the step and rank 1 as the rank that never arrived. Two
# layouts: dp=2 (the other rank waits in a DP all-reduce, or the step's loss sum) and
# pp=2 (mostly a pipeline message from stage 1). Without the watchdog the job would wait forever (the
# 60 s guard below turns that into a failure).
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/watchdog.bash"
make_watchdog_corpus
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --grad-accum 2
      --steps 100000 --warmup 10 --save-every 0 --eval-every 0 --eval-batches 2 --log-every 1000
      --timeout-minutes $timeout_minutes)

train_and_stop_rank_1 dp2 "(dp|world) all-reduce"
# Stage 0 most often waits for stage 1's gradients; it may also be in the step's loss sum.
train_and_stop_rank_1 pp2 "(pp (recv from|send to) pp rank 1|world all-reduce|embedding all-reduce)" --pp 2
echo "ok: watchdog"
