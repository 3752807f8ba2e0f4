#!/usr/bin/env bash
# Peak RSS of one `alibi train` process on the bench model (C=512, L=8, NH=8, T=512,
# V=8192 from the BPE-8192 default corpus, micro-batch 8) under each --recompute mode,
# beside what `alibi plan` predicts for it (issue 17). The peak is the kernel's VmHWM once
# the first step has finished (metrics.jsonl has its line): every tensor a step needs is
# allocated by then and the caching allocator keeps it; the run is then stopped, before
# the final evaluation, whose last partial batch would allocate other sizes.
#
#   bench/bench_recompute_memory.sh [CORPUS]     (default data-cache/linuxdoc-bpe8192.h5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${1:-$root/data-cache/linuxdoc-bpe8192.h5}
alibi=$root/build/launch/alibi
work=$(mktemp -d /tmp/alibi-bench-recompute.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
model=(--layers 8 --channels 512 --heads 8 --seq-len 512 --micro-batch 8 --data "$corpus")
echo "| --recompute | plan total MiB | plan + 40 MiB process | measured peak RSS MiB | measured / (plan + 40) | step 1 s |"
echo "|---|---|---|---|---|---|"
for mode in none selective full; do
  plan=$("$alibi" plan "${model[@]}" --recompute "$mode" --json |
    /usr/bin/env python3 -c 'import json,sys; print(json.load(sys.stdin)["ranks"][0]["total_bytes"] / 2**20)')
  OMP_NUM_THREADS=2 "$alibi" train "${model[@]}" --recompute "$mode" --steps 5 --warmup 1 --save-every 0 \
    --eval-every 0 --log-every 1 --out-dir "$work/$mode" >"$work/$mode.log" 2>&1 &
  pid=$!
  until [[ -s $work/$mode/metrics.jsonl ]]; do
    kill -0 $pid 2>/dev/null || { cat "$work/$mode.log"; exit 1; }
    sleep 0.2
  done
  hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  pid=
  /usr/bin/env python3 - "$mode" "$plan" "$hwm_kb" "$work/$mode/metrics.jsonl" <<'PY'
import json, sys
mode, plan, hwm = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]) / 1024
step = json.loads(open(sys.argv[4]).readline())["elapsed_s"]
print(f"| {mode} | {plan:.1f} | {plan + 40:.1f} | {hwm:.1f} | {hwm / (plan + 40):.3f} | {step:.1f} |")
PY
done
