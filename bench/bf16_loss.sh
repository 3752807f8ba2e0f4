#!/usr/bin/env bash
# bf16 products on the CPU (--matmul-precision bf16: oneDNN, AVX512-BF16) against fp32 on
# the default model: the same run (launch/configs/tiny.ini, same seed and data) trained
# --steps steps in each precision, then the two loss curves compared: the training loss
# averaged over windows of 25 steps, the largest relative gap of any window, the final
# validation loss of each, and each run's tokens/s (interleaved runs would be fairer for
# speed: bench/vs_pytorch.sh is the speed comparison; this script is about the loss).
#
#   bench/bf16_loss.sh [--steps 300] [--data CORPUS.h5] [--build build] [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

steps=300 data=data-cache/linuxdoc-bpe8192.h5 build=build out=""
while (($#)); do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bf16_loss.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
[[ -f $data ]] || { echo "bf16_loss.sh: $data missing; ./launch/main_job.sh builds the default corpus, or pass --data" >&2; exit 2; }
out=${out:-/tmp/bf16_loss.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
for p in fp32 bf16; do
  "$build/launch/alibi" train --config launch/configs/tiny.ini --data "$data" --out-dir "$out/$p" \
    --steps "$steps" --save-every 0 --eval-every "$steps" --matmul-precision "$p" >"$out/$p.log" 2>&1
  echo "$p: $(grep -E '^validation' "$out/$p.log" | tail -1)"
done
/usr/bin/python3 - "$out" <<'EOF'
import json, statistics, sys
out = sys.argv[1]
def curve(p):
    rows = [json.loads(l) for l in open(f"{out}/{p}/metrics.jsonl")]
    train = [r for r in rows if "loss" in r and "step" in r]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    tps = statistics.median(r["tokens_per_s"] for r in train if "tokens_per_s" in r)
    return [r["loss"] for r in train], (val[-1] if val else float("nan")), tps
a, va, ta = curve("fp32")
b, vb, tb = curve("bf16")
n = min(len(a), len(b)) // 25 * 25
gaps = [abs(statistics.mean(b[i:i + 25]) / statistics.mean(a[i:i + 25]) - 1) for i in range(0, n, 25)]
print(f"steps {n}: largest gap of a 25-step mean training loss {max(gaps):.2%} (window {gaps.index(max(gaps)) + 1}), "
      f"last window {gaps[-1]:.2%}")
print(f"final validation loss: fp32 {va:.4f}, bf16 {vb:.4f} ({vb / va - 1:+.2%})")
print(f"median tokens/s: fp32 {ta:.0f}, bf16 {tb:.0f} ({tb / ta:.2f}x; not interleaved)")
EOF
