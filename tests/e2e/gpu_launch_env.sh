# Every GPU launch script starts its ranks with CUDA_MODULE_LOADING=EAGER (lazy module
# loading can deadlock a kernel's first launch against a spinning NCCL receive): each
# script runs a stand-in binary that prints what its ranks see. No GPU needed; mpirun's
# ranks are real (np 2), srun's are not (lib.bash's environment is checked directly).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export CUDA_MODULE_LOADING=LAZY  # what a user's shell might hold: the scripts must override it
printf '#!/bin/sh\necho "rank sees CUDA_MODULE_LOADING=${CUDA_MODULE_LOADING:-unset}"\n' >"$WORK/fake_alibi"
chmod +x "$WORK/fake_alibi"
export ALIBI_BIN=$WORK/fake_alibi ALIBI_MPIRUN_ARGS="--oversubscribe"

# expect_eager NAME CMD...: every line CMD prints about the variable says EAGER, and there is one.
expect_eager() {
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>&1 || { cat "$WORK/$name.out" >&2; fail "$name exited non-zero"; }
  grep -q "CUDA_MODULE_LOADING=" "$WORK/$name.out" || { cat "$WORK/$name.out" >&2; fail "$name: no rank output"; }
  if grep "CUDA_MODULE_LOADING=" "$WORK/$name.out" | grep -vq "=EAGER$"; then
    cat "$WORK/$name.out" >&2; fail "$name: a rank runs without CUDA_MODULE_LOADING=EAGER"
  fi
  echo "ok: $name"
}

expect_eager single_node "$SRC/launch/mpirun_single_node.sh" 2
printf 'localhost\nlocalhost\n' >"$WORK/hosts"
expect_eager multi_node "$SRC/launch/mpirun_multi_node.sh" "$WORK/hosts" 2
expect_eager gpu_bind env OMPI_COMM_WORLD_LOCAL_RANK=0 bash "$SRC/launch/slurm/gpu_bind.sh" "$WORK/fake_alibi"
# The sbatch scripts: slurm_nccl_env exports it, and mpirun inside the allocation passes it on.
expect_eager slurm_env bash -c "OUT_DIR=$WORK; source '$SRC/launch/slurm/lib.bash'; slurm_nccl_env; '$WORK/fake_alibi'"
for f in "$SRC"/launch/slurm/gpu_*.sbatch; do
  grep -q '^slurm_nccl_env' "$f" || fail "$(basename "$f") does not call slurm_nccl_env"
done
grep -q '^export CUDA_MODULE_LOADING=EAGER' "$SRC/tests/gpu/run.sh" || fail "tests/gpu/run.sh does not export EAGER"
echo "ok: gpu_*.sbatch call slurm_nccl_env; tests/gpu/run.sh exports EAGER"
