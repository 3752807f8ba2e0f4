#!/usr/bin/env bash
# Generation on this machine, ours beside llama.cpp's on the same model: the tiny model
# (launch/configs/tiny.ini: L=4, C=256) or the bench model (L=8, C=512, as bench_train),
# V = 8192 from the BPE-8192 default corpus, after one training step (speed and memory do
# not depend on the weights), exported to an f32 GGUF for llama.cpp. For each context C a
# prompt of C - NEW tokens runs in one blocked forward and NEW tokens follow one at a time,
# so the decode steps attend to C - NEW .. C positions. Ours: the prompt's and the
# generation's tokens/s, the KV cache and the peak RSS (getrusage), from the statistics line
# of `alibi generate`. llama.cpp's: the same prompt and count through node-llama-cpp
# (tests/e2e/lib/llama_cpp.mjs speed: its default f16 KV cache, the same threads), when
# build/npm-llama-cpp holds it (ctest -R e2e.export_gguf installs it); "-" otherwise. Each
# repeat runs ours then llama.cpp's; the table keeps each side's fastest generation.
#
#   bench/bench_generate.sh [MODEL] [CONTEXTS] [NEW] [REPEATS] [CORPUS]
#   (defaults: tiny  128,1024,8192,32768  64  3  data-cache/linuxdoc-bpe8192.h5, made when missing)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:-tiny}
contexts=${2:-128,1024,8192,32768}
new=${3:-64}
repeats=${4:-3}
corpus=${5:-$root/data-cache/linuxdoc-bpe8192.h5}
case $model in
  tiny) shape=() ;;
  bench) shape=(--layers 8 --channels 512 --heads 8 --seq-len 512 --micro-batch 1) ;;
  *) echo "bench_generate.sh: MODEL '$model' is not tiny or bench" >&2; exit 2 ;;
esac
llama_prefix=$root/build/npm-llama-cpp
alibi=$root/build/launch/alibi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}  # as launch/main_job.sh: a shared box
work=$(mktemp -d /tmp/alibi-bench-generate.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [[ ! -f $corpus ]]; then
  mkdir -p "$(dirname "$corpus")"
  "$alibi" preprocess --input /usr/share/doc/linux-doc-6.1/html/_sources --output "$corpus" --tokenizer bpe \
    --vocab 8192 >/dev/null
fi
"$alibi" train --config "$root/launch/configs/tiny.ini" "${shape[@]}" --data "$corpus" --out-dir "$work/run" --steps 1 \
  --warmup 0 --save-every 0 --eval-every 0 --eval-batches 1 >"$work/train.txt"
ck=$work/run/step_00000001.h5
llama=""
if [[ -f $llama_prefix/node_modules/node-llama-cpp/package.json ]] && command -v node >/dev/null; then
  "$alibi" export --checkpoint "$ck" --out "$work/model.gguf" >/dev/null
  llama=$root/tests/e2e/lib/llama_cpp.mjs
fi

echo "$(grep -o '^model: [0-9]* parameters ([^)]*)' "$work/train.txt"), OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "| context | prompt tokens | prompt tokens/s | llama.cpp prompt tokens/s | new tokens | generation tokens/s | llama.cpp generation tokens/s | KV cache MiB | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
for C in ${contexts//,/ }; do
  P=$((C - new))
  # Ids below 100 keep the argument short enough for 32k tokens (3 bytes each at most).
  python3 -c "print(' '.join(str((i * 37 + 11) % 97) for i in range($P)))" >"$work/ids.txt"
  : >"$work/ours.txt"; : >"$work/theirs.txt"
  for _ in $(seq "$repeats"); do
    "$alibi" generate --checkpoint "$ck" --prompt-ids "$(tr ' ' , <"$work/ids.txt")" --max-new-tokens "$new" \
      --temperature 0 >/dev/null 2>"$work/err"
    grep '^prompt: ' "$work/err" >>"$work/ours.txt"
    if [[ -n $llama ]]; then
      LLAMA_NPM_PREFIX=$llama_prefix LLAMA_THREADS=$OMP_NUM_THREADS node "$llama" speed "$work/model.gguf" "$work/ids.txt" \
        "$new" >>"$work/theirs.txt"
    fi
  done
  python3 - "$C" "$work/ours.txt" "$work/theirs.txt" <<'PY'
import re, sys
number = r"([\d.]+)"
ours = [re.search(rf"prompt: (\d+) tokens in {number} s \({number} tokens/s\); generation: (\d+) tokens, (\d+) decode "
                  rf"steps in {number} s \({number} tokens/s\); KV cache {number} MiB; peak RSS {number} MiB", l).groups()
        for l in open(sys.argv[2])]
theirs = [re.search(rf"prompt: \d+ tokens in {number} s \({number} tokens/s\); generation: \d+ tokens in {number} s "
                    rf"\({number} tokens/s\)", l).groups() for l in open(sys.argv[3])]
p, ps, ptps, n, steps, gs, gtps, kv, rss = max(ours, key=lambda r: float(r[6]))
their_p = f"{max(float(r[1]) for r in theirs):,.0f}" if theirs else "-"
their_g = f"{max(float(r[3]) for r in theirs):,.1f}" if theirs else "-"
print(f"| {sys.argv[1]} | {p} | {float(ptps):,.0f} | {their_p} | {n} | {float(gtps):,.1f} | {their_g} | {kv} | {float(rss):,.0f} |")
PY
done
