#!/usr/bin/env bash
# The extrapolation study (the paper's Figure 1 on our default corpus): train the default
# model (launch/configs/tiny.ini, T=128) with each position method on the same data, the
# same seed and the same number of tokens, then evaluate every checkpoint at 1x..32x the
# training length, non-overlapping and sliding (stride half the evaluation length). Writes OUT/study.md (tables
# of perplexity and training speed), the eval CSV/JSON/PNG files, and each run's metrics.
#
#   launch/extrapolation_study.sh [--tokens 3000000] [--methods "alibi sinusoidal rotary t5"]
#                                 [--lengths 128,256,512,1024,2048,4096] [--out runs/study]
#                                 [--train-only]
# A method whose final checkpoint exists is not trained again, so methods can be trained
# by separate invocations (--train-only) and evaluated together afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tokens=3000000
methods="alibi sinusoidal rotary t5"
lengths=128,256,512,1024,2048,4096
out=$root/runs/study
train_only=0
corpus=${ALIBI_STUDY_CORPUS:-$root/data-cache/linuxdoc-bytes.h5}
while [[ $# -gt 0 ]]; do
  case $1 in
    --tokens) tokens=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --lengths) lengths=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --train-only) train_only=1; shift ;;
    *) echo "extrapolation_study.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
"$root/launch/build.sh" --target alibi >/dev/null
alibi=$root/build/launch/alibi
if [[ ! -f $corpus ]]; then
  mkdir -p "$(dirname "$corpus")"
  "$alibi" preprocess --tokenizer bytes --input /usr/share/doc/linux-doc-6.1/html/_sources --output "$corpus"
fi
config=$root/launch/configs/tiny.ini
T=$(sed -n 's/^seq-len *= *//p' "$config")
B=$(sed -n 's/^micro-batch *= *//p' "$config")
steps=$(( (tokens + B * T - 1) / (B * T) ))
mkdir -p "$out"
checkpoints=()
for m in $methods; do
  checkpoint=$out/$m/$(printf 'step_%08d.h5' "$steps")
  checkpoints+=("$checkpoint")
  [[ -f $checkpoint ]] && { echo "== $m: $checkpoint exists"; continue; }
  echo "== training $m: $steps steps of $((B * T)) tokens"
  start=$(date +%s)
  "$alibi" train --config "$config" --data "$corpus" --out-dir "$out/$m" --position "$m" --steps "$steps" \
    --warmup $((steps / 20)) --save-every 0 --eval-every $((steps / 4)) --log-every 100 | tail -n 2
  echo "$m $(( $(date +%s) - start ))" >>"$out/train_seconds.txt"
done
[[ $train_only == 1 ]] && exit 0
"$alibi" eval --checkpoint "${checkpoints[@]}" --lengths "$lengths" --mode nonoverlapping --out "$out/nonoverlapping"
# Stride half of each evaluation length: every token scored with at least L/2 tokens of
# context, at twice the non-overlapping cost (a fixed stride of T/2 would cost L/T times).
"$alibi" eval --checkpoint "${checkpoints[@]}" --lengths "$lengths" --mode sliding --out "$out/sliding"

# ---- the report --------------------------------------------------------------------------
/usr/bin/env python3 - "$out" "$T" $methods <<'PY'
import csv, json, os, statistics, sys
out, T, methods = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = [f"Training length T={T}; perplexity on the validation split (lower is better).", ""]
for mode in ("nonoverlapping", "sliding"):
    rows = list(csv.DictReader(open(os.path.join(out, mode + ".csv"))))
    lengths = sorted({int(r["eval_length"]) for r in rows})
    lines.append(f"**{mode}**" + (" (stride half the evaluation length)" if mode == "sliding" else ""))
    lines.append("")
    lines.append("| method | " + " | ".join(f"{L} ({L // T}x)" if L >= T else str(L) for L in lengths) + " |")
    lines.append("|---" * (len(lengths) + 1) + "|")
    for m in methods:
        ppl = {int(r["eval_length"]): float(r["ppl"]) for r in rows if r["method"] == m}
        lines.append(f"| {m} | " + " | ".join(f"{ppl[L]:.3f}" if L in ppl else "-" for L in lengths) + " |")
    lines.append("")
secs = dict(l.split() for l in open(os.path.join(out, "train_seconds.txt")))
lines.append("| method | train wall s | median tokens/s | final train loss | final val loss |")
lines.append("|---|---|---|---|---|")
for m in methods:
    ms = [json.loads(l) for l in open(os.path.join(out, m, "metrics.jsonl"))]
    tps = statistics.median(x["tokens_per_s"] for x in ms[5:] or ms)
    val = [x["val_loss"] for x in ms if "val_loss" in x]
    lines.append(f"| {m} | {secs.get(m, '?')} | {tps:.0f} | {ms[-1]['loss']:.4f} | {val[-1]:.4f} |")
open(os.path.join(out, "study.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $out/study.md and $out/{nonoverlapping,sliding}.{csv,json,png}"
