#!/usr/bin/env bash
# Train on several machines: `alibi train` under mpirun with a hostfile. The alibi
# binary, the corpus and --out-dir must be at the same paths on every node (a shared
# file system); checkpoints are written collectively (parallel HDF5) into --out-dir.
#
#   launch/mpirun_multi_node.sh HOSTFILE NP [alibi train options...]
#   launch/mpirun_multi_node.sh hosts 16 --config launch/configs/tiny.ini --data /shared/c.h5 \
#       --out-dir /shared/runs/a --tp 4 --pp 2                             # dp = 16 / (4*2) = 2
#
# HOSTFILE (Open MPI): one line per node with its slots (ranks), or a node listed once per
# slot; do not mix the two for one node. '#' starts a comment.
#   node01 slots=8
#   node02 slots=8
# Ranks fill the first node's slots, then the next (--map-by slot): with rank = tp_rank +
# tp * (dp_rank + dp * pp_rank), a tensor-parallel group is consecutive ranks, so keep tp
# <= slots per node and its all-reduces stay inside a node. To pin the ranks per node
# regardless of slots, add e.g. "--map-by ppr:8:node" to ALIBI_MPIRUN_ARGS (later flags
# win); "--display-map" prints where each rank lands.
#
# Environment:
#   OMP_NUM_THREADS    threads per rank (default: this node's cores / ranks per node; the
#                      nodes are assumed alike, so set it when launching from a login node)
#   ALIBI_MPIRUN_ARGS  extra mpirun flags, split on spaces and placed after ours: e.g.
#                      "--prefix /usr" when remote nodes cannot find Open MPI's orted,
#                      "--mca btl_tcp_if_include eth0" to pick the network
#   ALIBI_BIN          the alibi binary (default: ${ALIBI_BUILD_DIR:-build}/launch/alibi)
# OMP_NUM_THREADS, PATH and LD_LIBRARY_PATH (and OPENBLAS_NUM_THREADS when set) are
# exported to every rank with -x.
set -euo pipefail
usage() {
  echo "usage: $0 HOSTFILE NP [alibi train options...]   (dp = NP / (tp * pp))" >&2
  exit 2
}
[[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage
hostfile=$1
np=$2
shift 2
[[ -r $hostfile ]] || { echo "$0: hostfile $hostfile: cannot read it" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ALIBI_BIN:-${ALIBI_BUILD_DIR:-$root/build}/launch/alibi}
[[ -x $bin ]] || { echo "$0: $bin is not built; run launch/build.sh (or set ALIBI_BIN)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")  # remote nodes need an absolute path

# Ranks per node: NP over the distinct hosts, rounded up; threads: this node's share.
nodes=$(sed 's/#.*//' "$hostfile" | awk 'NF { print $1 }' | sort -u | wc -l)
((nodes >= 1)) || { echo "$0: hostfile $hostfile names no host" >&2; exit 2; }
per_node=$(((np + nodes - 1) / nodes))
pe=$(($(nproc) / per_node))
((pe >= 1)) || pe=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$pe}
# CUDA's lazy module loading can deadlock: a kernel first loaded while NCCL spins in a
# receive waits for that receive. Load every kernel at start (forced: no safe other value).
export CUDA_MODULE_LOADING=EAGER
if ((OMP_NUM_THREADS > 1)); then
  mapping=(--map-by "slot:PE=$OMP_NUM_THREADS" --bind-to core)
else
  mapping=(--map-by slot --bind-to core)
fi
exports=(-x OMP_NUM_THREADS -x PATH -x CUDA_MODULE_LOADING)
[[ -n ${LD_LIBRARY_PATH:-} ]] && exports+=(-x LD_LIBRARY_PATH)
[[ -n ${OPENBLAS_NUM_THREADS:-} ]] && exports+=(-x OPENBLAS_NUM_THREADS)
read -r -a extra <<<"${ALIBI_MPIRUN_ARGS:-}"
exec mpirun --hostfile "$hostfile" -np "$np" "${mapping[@]}" "${exports[@]}" "${extra[@]}" "$bin" train "$@"
