#!/usr/bin/env bash
# The long preemption soak (issue 16): 2,000 steps, SIGTERM at 20 random steps and SIGKILL
# at 5, each followed by a restart with --resume auto; the final checkpoint must equal the
# uninterrupted run's bit for bit (h5diff) and no SIGTERM may lose a step. The suite runs
# the same script small (tests/e2e/preemption_soak.sh: 150 steps, 3 + 1).
#   bench/soak_preemption.sh [ALIBI] [NP]     (NP 2: under mpirun, dp=2)
# Environment overrides as in the test: SOAK_STEPS SOAK_TERMS SOAK_KILLS SOAK_SAVE_EVERY
# SOAK_SEED SOAK_MODEL SOAK_MARGIN. Under mpirun (NP 2) the graceful stop is SIGUSR1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
alibi=${1:-$root/build/launch/alibi}
export SOAK_NP=${2:-1}
export SOAK_STEPS=${SOAK_STEPS:-2000} SOAK_TERMS=${SOAK_TERMS:-20} SOAK_KILLS=${SOAK_KILLS:-5}
export SOAK_SAVE_EVERY=${SOAK_SAVE_EVERY:-50}
uptime
bash "$root/tests/e2e/preemption_soak.sh" "$alibi" "$root"
uptime
