#!/usr/bin/env bash
# The main job (README command 1): set-up, build, the default corpus (Linux kernel
# documentation from Debian's linux-doc-6.1), a short ALiBi training run of
# launch/configs/tiny.ini, its perplexity on held-out text, and perplexity against
# evaluation length from 1x to 8x the training length (train short, test long).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/launch/build.sh" --target alibi
alibi="$root/build/launch/alibi"
# OpenMP threads spin briefly at barriers, then sleep: on a machine other processes share,
# libgomp's default long spin makes two threads 3.6x slower (bench/RESULTS.md); alone it
# costs ~1%. A value already set wins.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}

# The default corpus: byte-level BPE with 8192 tokens trained on the corpus itself.
corpus=${ALIBI_CORPUS:-$root/data-cache/linuxdoc-bpe8192.h5}
if [[ ! -f "$corpus" ]]; then
  mkdir -p "$(dirname "$corpus")"
  "$alibi" preprocess --input /usr/share/doc/linux-doc-6.1/html/_sources --output "$corpus" \
    --tokenizer bpe --vocab 8192
fi

out=${ALIBI_OUT_DIR:-$root/runs/tiny}
rm -rf "$out"
"$alibi" train --config "$root/launch/configs/tiny.ini" --data "$corpus" --out-dir "$out" "$@"

T=$(sed -n 's/^seq-len *= *//p' "$root/launch/configs/tiny.ini")
echo
echo "perplexity against evaluation length (trained on windows of $T tokens):"
"$alibi" eval --checkpoint "$(ls "$out"/step_*.h5 | tail -n 1)" --lengths "$T,$((2 * T)),$((4 * T)),$((8 * T))" \
  --out "$out/eval"
