#!/usr/bin/env bash
# Generation on this machine: the tiny model (launch/configs/tiny.ini, V = 8192 from the
# BPE-8192 default corpus) after one training step (speed and memory do not depend on the
# weights). For each context C a prompt of C - NEW tokens runs in one blocked forward and
# NEW tokens follow one at a time, so the decode steps attend to C - NEW .. C positions;
# the table has the prompt's and the generation's tokens/s, the KV cache and the peak RSS
# (getrusage), from the statistics line of `alibi generate`. Best of REPEATS runs.
#
#   bench/bench_generate.sh [CONTEXTS] [NEW] [REPEATS] [CORPUS]
#   (defaults: 128,1024,8192,32768  64  3  data-cache/linuxdoc-bpe8192.h5, made when missing)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
contexts=${1:-128,1024,8192,32768}
new=${2:-64}
repeats=${3:-3}
corpus=${4:-$root/data-cache/linuxdoc-bpe8192.h5}
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
"$alibi" train --config "$root/launch/configs/tiny.ini" --data "$corpus" --out-dir "$work/run" --steps 1 \
  --warmup 0 --save-every 0 --eval-every 0 --eval-batches 1 >/dev/null
ck=$work/run/step_00000001.h5

echo "| context | prompt tokens | prompt tokens/s | new tokens | generation tokens/s | KV cache MiB | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
for C in ${contexts//,/ }; do
  P=$((C - new))
  # Ids below 100 keep the argument short enough for 32k tokens (3 bytes each at most).
  ids=$(python3 -c "print(','.join(str((i * 37 + 11) % 97) for i in range($P)))")
  best=""
  for _ in $(seq "$repeats"); do
    "$alibi" generate --checkpoint "$ck" --prompt-ids "$ids" --max-new-tokens "$new" --temperature 0 \
      >/dev/null 2>"$work/err"
    line=$(grep '^prompt: ' "$work/err")
    best=$(python3 - "$line" "$best" <<'PY'
import re, sys
def parse(s):
    m = re.search(r"prompt: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\); generation: (\d+) tokens, (\d+) decode "
                  r"steps in ([\d.]+) s \(([\d.]+) tokens/s\); KV cache ([\d.]+) MiB; peak RSS ([\d.]+) MiB", s)
    return None if m is None else [float(x) for x in m.groups()]
new, old = parse(sys.argv[1]), parse(sys.argv[2]) if sys.argv[2] else None
keep = new if old is None or new[6] > old[6] else old  # the fastest generation
print(sys.argv[1] if keep is new else sys.argv[2])
PY
)
  done
  python3 - "$C" "$best" <<'PY'
import re, sys
m = re.search(r"prompt: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\); generation: (\d+) tokens, (\d+) decode "
              r"steps in ([\d.]+) s \(([\d.]+) tokens/s\); KV cache ([\d.]+) MiB; peak RSS ([\d.]+) MiB", sys.argv[2])
p, ps, ptps, n, steps, gs, gtps, kv, rss = m.groups()
print(f"| {sys.argv[1]} | {p} | {float(ptps):,.0f} | {n} | {float(gtps):,.1f} | {kv} | {float(rss):,.0f} |")
PY
done
