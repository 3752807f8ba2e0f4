#!/usr/bin/env bash
# A trained checkpoint (the main job's, by default) exported to GGUF and run in llama.cpp,
# the checks of tests/e2e/export_gguf.sh on a real model: (a) llama.cpp's token ids of a
# text none of us wrote (GPL-3 from /usr/share/common-licenses) equal ours; (b) its per-token
# log-probabilities over WINDOWS windows of 4x the training length equal `alibi eval
# --dump-logprobs`'s within 1e-3 (the e2e test's tolerance and its reasons) and the perplexity
# within 0.5%; (c) its 64 greedy tokens after 40 ids from the text's middle equal `alibi
# generate --temperature 0`'s. llama.cpp comes from build/npm-llama-cpp (ctest -R
# e2e.export_gguf installs it there).
#
#   bench/llama_check.sh [CHECKPOINT] [WINDOWS] [TOL]   (defaults: the newest runs/tiny/step_*.h5, 8, 1e-3)
# Every check runs; the exit status is 1 when any failed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
alibi=$root/build/launch/alibi
ck=${1:-$(ls "$root"/runs/tiny/step_*.h5 2>/dev/null | sed -n '$p')}
windows=${2:-8}
tol=${3:-1e-3}
status=0
[[ -f $ck ]] || { echo "llama_check.sh: no checkpoint (run launch/main_job.sh, or give one)" >&2; exit 2; }
export LLAMA_NPM_PREFIX=$root/build/npm-llama-cpp LLAMA_THREADS=${OMP_NUM_THREADS:-$(nproc)}
[[ -f $LLAMA_NPM_PREFIX/node_modules/node-llama-cpp/package.json ]] ||
  { echo "llama_check.sh: no llama.cpp in $LLAMA_NPM_PREFIX (run ctest -R e2e.export_gguf once)" >&2; exit 2; }
llama() { node "$root/tests/e2e/lib/llama_cpp.mjs" "$@"; }
work=$(mktemp -d /tmp/alibi-llama-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
text=/usr/share/common-licenses/GPL-3
T=$(h5dump -a /config/seq-len "$ck" | sed -n 's/.*(0): "\([0-9]*\)".*/\1/p')
L4=$((4 * T))
echo "checkpoint $ck (training length $T), llama.cpp from $LLAMA_NPM_PREFIX"
"$alibi" export --format gguf --checkpoint "$ck" --out "$work/model.gguf" | tail -1

"$alibi" tokenize --checkpoint "$ck" --input "$text" >"$work/ids.txt"
llama tokenize "$work/model.gguf" "$text" >"$work/ids_llama.txt"
if cmp -s "$work/ids.txt" "$work/ids_llama.txt"; then
  echo "(a) ok: llama.cpp's $(wc -w <"$work/ids.txt") ids of $text are ours"
else
  echo "(a) FAIL: llama.cpp tokenizes $text otherwise"; status=1
fi

"$alibi" eval --checkpoint "$ck" --text "$text" --lengths $L4 --dump-logprobs "$work/lp.tsv" --out "$work/eval" >/dev/null
llama logprobs "$work/model.gguf" "$work/ids.txt" $L4 "$windows" >"$work/lp_llama.tsv"
echo -n "(b) length $L4 (4x $T), $windows windows:"
python3 "$root/tests/e2e/lib/compare_logprobs.py" "$work/lp.tsv" "$work/lp_llama.tsv" $L4 "$tol" || status=1

awk '{s = int(NF / 2); for (i = s; i < s + 40; ++i) printf "%s%s", $i, (i + 1 < s + 40 ? " " : "\n")}' "$work/ids.txt" \
  >"$work/prompt.txt"
llama greedy "$work/model.gguf" "$work/prompt.txt" 64 >"$work/greedy_llama.txt"
"$alibi" generate --checkpoint "$ck" --prompt-ids "$(tr ' ' , <"$work/prompt.txt")" --max-new-tokens 64 \
  --temperature 0 --print-ids >"$work/greedy.txt" 2>/dev/null
distinct=$(tr ' ' '\n' <"$work/greedy.txt" | sort -u | wc -l)
if cmp -s "$work/greedy.txt" "$work/greedy_llama.txt"; then
  echo "(c) ok: the 64 greedy tokens ($distinct distinct) after 40 prompt ids are llama.cpp's"
else
  echo "(c) FAIL: greedy tokens differ: llama.cpp $(cat "$work/greedy_llama.txt"); ours $(cat "$work/greedy.txt")"; status=1
fi
exit $status
