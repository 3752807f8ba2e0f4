#!/usr/bin/env bash
# Train on one machine with NP MPI ranks: `alibi train` under mpirun, each rank bound to
# its own cores, OpenMP threads = cores / NP. dp = NP / (tp * pp).
#
#   launch/mpirun_single_node.sh NP [alibi train options...]
#   launch/mpirun_single_node.sh 8 --config launch/configs/tiny.ini --data corpus.h5 --tp 2 --pp 2  # dp 2
#   alibi plan --config launch/configs/tiny.ini --tp 2 --pp 2 --dp 2    # what each rank will hold
#
# Environment:
#   OMP_NUM_THREADS    threads per rank (default: cores / NP, at least 1)
#   ALIBI_MPIRUN_ARGS  extra mpirun flags, split on spaces and placed after ours, so they
#                      win: "--allow-run-as-root" in a container; more ranks than cores
#                      needs "--oversubscribe --bind-to core:overload-allowed" (slow: the
#                      ranks share cores; for tests, not for training runs)
#   ALIBI_BIN          the alibi binary (default: ${ALIBI_BUILD_DIR:-build}/launch/alibi)
#   ALIBI_COMMAND      the subcommand (default train; `alibi study` runs eval this way too)
set -euo pipefail
usage() {
  echo "usage: $0 NP [alibi train options...]   (NP: MPI ranks; dp = NP / (tp * pp))" >&2
  exit 2
}
[[ $# -ge 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
np=$1
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ALIBI_BIN:-${ALIBI_BUILD_DIR:-$root/build}/launch/alibi}
[[ -x $bin ]] || { echo "$0: $bin is not built; run launch/build.sh (or set ALIBI_BIN)" >&2; exit 2; }

# Each rank gets cores / NP cores: bound to one core, or to a block of PE cores when
# there are cores to spare (ranks that float between cores see millisecond latencies
# on a busy machine; threads of one rank squeezed onto one core fight each other).
cores=$(nproc)
pe=$((cores / np))
((pe >= 1)) || pe=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$pe}
# Spin briefly at OpenMP barriers, then sleep: a workstation's other processes otherwise
# stall the spinning threads (bench/RESULTS.md: 1.7x under one busy process, ~1% alone).
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
# CUDA's lazy module loading can deadlock: a kernel first loaded while NCCL spins in a
# receive waits for that receive. Load every kernel at start (forced: no safe other value).
export CUDA_MODULE_LOADING=EAGER
if ((pe > 1)); then
  mapping=(--map-by "slot:PE=$pe" --bind-to core)
else
  mapping=(--map-by core --bind-to core)
fi
read -r -a extra <<<"${ALIBI_MPIRUN_ARGS:-}"
exec mpirun -np "$np" "${mapping[@]}" "${extra[@]}" "$bin" "${ALIBI_COMMAND:-train}" "$@"
