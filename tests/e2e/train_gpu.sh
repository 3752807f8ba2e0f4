# On a GPU machine, a few steps train on the GPU and their losses follow the same steps on
# the CPU (bf16 and exact fp32 products), a GPU checkpoint resumes on the CPU, and GPU
# evaluation gives the CPU's perplexities, and GPU generation the CPU's greedy tokens. Skipped without a GPU (tests/gpu/run.sh runs it
# on one; tests/e2e/train_device.sh checks the no-device error).
source "$(dirname "$0")/lib/common.bash"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  skip "no GPU (nvidia-smi -L fails): GPU training against the CPU did not run"
fi
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
small=(--layers 2 --channels 64 --heads 2 --seq-len 64 --micro-batch 4 --warmup 2 --eval-every 0 --eval-batches 1
       --log-every 1 --seed 5)

# A GPU: the same six steps on both devices; bf16 products keep the losses within 0.05.
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/cpu" --device cpu "${small[@]}" --steps 6 >/dev/null
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/gpu" --device cuda "${small[@]}" --steps 6 >/dev/null
python3 - "$WORK/cpu/metrics.jsonl" "$WORK/gpu/metrics.jsonl" <<'PY' || fail "GPU losses left the CPU's"
import json, sys
cpu = [json.loads(l)["loss"] for l in open(sys.argv[1]) if '"loss"' in l]
gpu = [json.loads(l)["loss"] for l in open(sys.argv[2]) if '"loss"' in l]
print("cpu", [round(x, 4) for x in cpu]); print("gpu", [round(x, 4) for x in gpu])
assert len(cpu) == len(gpu) == 6 and all(abs(a - b) < 0.05 for a, b in zip(cpu, gpu))
PY
# Exact fp32 products: the GPU follows the CPU to float rounding, not bf16's.
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/gpu32" --device cuda --matmul-precision fp32 "${small[@]}" \
  --steps 6 >/dev/null
python3 - "$WORK/cpu/metrics.jsonl" "$WORK/gpu32/metrics.jsonl" <<'PY' || fail "fp32 GPU losses left the CPU's"
import json, sys
cpu, gpu = ([json.loads(l)["loss"] for l in open(p) if '"loss"' in l] for p in sys.argv[1:])
assert len(cpu) == len(gpu) == 6 and all(abs(a - b) < 1e-3 for a, b in zip(cpu, gpu)), (cpu, gpu)
PY
# The GPU checkpoint resumes on the CPU (checkpoints are fp32 and device-free).
"$ALIBI" train --resume "$WORK/gpu/step_00000006.h5" --device cpu --steps 8 >/dev/null || fail "CPU resume of a GPU checkpoint"
# Evaluation on the GPU gives the CPU's perplexities (bf16 products: within 1%).
"$ALIBI" eval --checkpoint "$WORK/gpu/step_00000006.h5" --lengths 64,256 --device cpu --out "$WORK/ecpu" >/dev/null
"$ALIBI" eval --checkpoint "$WORK/gpu/step_00000006.h5" --lengths 64,256 --device cuda --out "$WORK/egpu" >/dev/null
python3 - "$WORK/ecpu.json" "$WORK/egpu.json" <<'PY' || fail "GPU perplexities differ from the CPU's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
rows = lambda d: d["results"] if isinstance(d, dict) else d
for x, y in zip(rows(a), rows(b)):
    print(x["eval_length"], x["ppl"], y["ppl"]); assert abs(x["ppl"] - y["ppl"]) <= 0.01 * x["ppl"]
PY
# Generation on the GPU (kernels/cuda/attention_decode.cu): with exact fp32 products the
# greedy tokens of a 300-id prompt (4.7x the training length, so the decode kernel splits
# its keys over two blocks per head past 256) are the CPU's; bf16 products run too.
ids=$(python3 -c "print(','.join(str((i * 37 + 11) % 97) for i in range(300)))")
for device in cpu cuda; do
  "$ALIBI" generate --checkpoint "$WORK/gpu32/step_00000006.h5" --prompt-ids "$ids" --max-new-tokens 48 \
    --temperature 0 --print-ids --device $device --matmul-precision fp32 >"$WORK/greedy_$device.txt" ||
    fail "alibi generate --device $device"
done
cmp -s "$WORK/greedy_cpu.txt" "$WORK/greedy_cuda.txt" ||
  fail "GPU greedy tokens $(cat "$WORK/greedy_cuda.txt") differ from the CPU's $(cat "$WORK/greedy_cpu.txt")"
"$ALIBI" generate --checkpoint "$WORK/gpu/step_00000006.h5" --prompt-ids "$ids" --max-new-tokens 48 --device cuda \
  >/dev/null || fail "alibi generate --device cuda (bf16)"
echo "ok: GPU training follows the CPU; GPU checkpoint resumes on the CPU; GPU eval matches; GPU greedy generation is the CPU's"
