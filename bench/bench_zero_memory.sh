#!/usr/bin/env bash
# ZeRO-1's memory: per-rank peak RSS of the bench model (C=512, L=8, NH=8, T=512, V=8192)
# at dp=2, micro-batch 8, with --zero 0 and --zero 1, beside what `alibi plan` predicts
# for each (its "total MiB" and "ZeRO-1 total" columns). Speed is not measured: the runs
# are short and the machine may be shared.
#
#   bench/bench_zero_memory.sh [STEPS] [CORPUS]   (defaults: 2 steps, data-cache/linuxdoc-bpe8192.h5)
#   ZEROS=1 bench/bench_zero_memory.sh ...        (one of the two runs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
steps=${1:-2}
corpus=${2:-$root/data-cache/linuxdoc-bpe8192.h5}
alibi=$root/build/launch/alibi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # this machine runs as root
work=$(mktemp -d /tmp/alibi-bench-zero.XXXXXX)
trap 'rm -rf "$work"' EXIT
model=(--layers 8 --channels 512 --heads 8 --seq-len 512 --micro-batch 8 --steps "$steps" --warmup 1
       --save-every 0 --eval-every 0 --eval-batches 1 --log-every 1 --data "$corpus")
plan_mib() {  # column: total_bytes | zero1_total_bytes -> rank 0's MiB
  "$alibi" plan "${model[@]}" --dp 2 --json |
    /usr/bin/env python3 -c "import json,sys; print(f'{json.load(sys.stdin)[\"ranks\"][0][\"$1\"] / 2**20:.1f}')"
}
# Each rank's peak RSS from GNU time's %M (KiB), written to time<zero>.<rank>.
echo "| --zero | rank | peak RSS MiB | plan total MiB (state + activations) |"
echo "|---|---|---|---|"
for zero in ${ZEROS:-0 1}; do
  OMP_NUM_THREADS=1 mpirun -np 2 bash -c '/usr/bin/time -f "rank-peak-kib %M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' \
    "$work/time$zero" "$alibi" train "${model[@]}" --zero $zero --out-dir "$work/zero$zero" >"$work/log$zero" 2>&1 ||
    { cat "$work/log$zero"; exit 1; }
  predicted=$(plan_mib $([[ $zero == 0 ]] && echo total_bytes || echo zero1_total_bytes))
  for r in 0 1; do
    kib=$(sed -n 's/^rank-peak-kib //p' "$work/time$zero.$r")
    echo "| $zero | $r | $((kib / 1024)) | $predicted |"
  done
done
