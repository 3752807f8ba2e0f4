# --device: cuda without a GPU (or in a CPU-only build) is one clear error line naming the
# fix; a bad value is a config error. Training on a GPU is tests/e2e/train_gpu.sh.
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
small=(--layers 2 --channels 64 --heads 2 --seq-len 64 --micro-batch 4 --warmup 2 --eval-every 0 --eval-batches 1
       --log-every 1 --seed 5)

expect_error bad-device "--device must be cpu or cuda" "$ALIBI" train --data "$WORK/c.h5" --device tpu "${small[@]}"
expect_error bad-precision "--matmul-precision must be auto, bf16, tf32 or fp32" \
  "$ALIBI" train --data "$WORK/c.h5" --matmul-precision fp16 "${small[@]}"
if nvidia-smi -L >/dev/null 2>&1; then
  # As tests/gpu's CudaAbsent: with a device present the error path cannot be reached.
  skip "a CUDA device exists (nvidia-smi -L): the no-device error cannot be reached (bad values checked)"
fi
expect_error no-gpu "no CUDA device.*--device cpu" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/gpu" --device cuda "${small[@]}" --steps 6
[[ -e "$WORK/gpu/step_00000006.h5" ]] && fail "a failed --device cuda run wrote a checkpoint"
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/cpu" --device cpu "${small[@]}" --steps 2 >/dev/null
expect_error eval-no-gpu "no CUDA device.*--device cpu" \
  "$ALIBI" eval --checkpoint "$WORK/cpu/step_00000002.h5" --device cuda --out "$WORK/e"
echo "ok: --device cuda without a GPU"
