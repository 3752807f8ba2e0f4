#!/usr/bin/env bash
# Runs one rank on one GPU (used by the GPU sbatch scripts; UNTESTED: no GPU where this
# was written): of the GPUs SLURM gave this node (CUDA_VISIBLE_DEVICES), the rank keeps
# the one at its node-local rank, so every rank's CUDA device 0 is its own GPU whatever
# the program's device choice. NCCL still uses NVLink/P2P between GPUs hidden from each
# other this way (CUDA IPC reaches devices a process cannot see).
#   srun ... bash launch/slurm/gpu_bind.sh alibi train ...      (SLURM_LOCALID)
#   mpirun ... bash launch/slurm/gpu_bind.sh alibi train ...    (OMPI_COMM_WORLD_LOCAL_RANK)
set -euo pipefail
# mpirun's ranks inherit the batch step's SLURM_LOCALID (0), so Open MPI's variable first.
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:?neither OMPI_COMM_WORLD_LOCAL_RANK nor SLURM_LOCALID is set}}
IFS=, read -r -a gpus <<<"${CUDA_VISIBLE_DEVICES:-}"
if ((${#gpus[@]} == 0)); then
  export CUDA_VISIBLE_DEVICES=$local_rank      # no list from SLURM: the node's own numbering
elif ((${#gpus[@]} > 1)); then
  ((local_rank < ${#gpus[@]})) || { echo "gpu_bind.sh: local rank $local_rank but only ${#gpus[@]} GPUs" \
    "($CUDA_VISIBLE_DEVICES): ask for --ntasks-per-node <= --gpus-per-node" >&2; exit 2; }
  export CUDA_VISIBLE_DEVICES=${gpus[local_rank]}
fi
# Every rank loads all its kernels at start: lazily loaded modules can deadlock against a
# spinning NCCL receive (lib.bash exports it too; a rank started another way gets it here).
export CUDA_MODULE_LOADING=EAGER
exec "$@"
