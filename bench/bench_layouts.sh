#!/usr/bin/env bash
# Parallel layouts on this machine: training tokens/s of the bench model (C=512, L=8,
# NH=8, T=512, V=8192 from the BPE-8192 default corpus) at np=1 and at np=2 as tp=2, pp=2
# and dp=2, with the time blocked on communication from metrics.jsonl.
#
#   bench/bench_layouts.sh [STEPS] [CORPUS]      (defaults: 6 steps, data-cache/linuxdoc-bpe8192.h5)
#   bench/bench_layouts.sh STEPS CORPUS pp-split [ROUNDS]
#       pp=2 only: --pp-split 4,4 (the even split of before issue 17) and auto, alternately,
#       ROUNDS times each (default 2), so a shared machine's load falls on both alike; each
#       run stops once its STEPS steps are logged (no final evaluation)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
steps=${1:-6}
corpus=${2:-$root/data-cache/linuxdoc-bpe8192.h5}
alibi=$root/build/launch/alibi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # this machine runs as root
work=$(mktemp -d /tmp/alibi-bench-layouts.XXXXXX)
trap 'rm -rf "$work"' EXIT
model=(--layers 8 --channels 512 --heads 8 --seq-len 512 --steps "$steps" --warmup 1 --save-every 0
       --eval-every 0 --eval-batches 1 --log-every 1 --data "$corpus")
steps_only=0
run() {  # name, ranks, threads per rank, options...
  local name=$1 np=$2 threads=$3; shift 3
  if [[ $steps_only == 1 ]]; then  # stop once every step is logged
    OMP_NUM_THREADS=$threads mpirun -np "$np" "$alibi" train "${model[@]}" --out-dir "$work/$name" "$@" >/dev/null &
    local pid=$!
    until [[ -f $work/$name/metrics.jsonl && $(wc -l <"$work/$name/metrics.jsonl") -ge $steps ]]; do
      kill -0 $pid 2>/dev/null || break
      sleep 0.5
    done
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  elif [[ $np == 1 ]]; then
    OMP_NUM_THREADS=$threads "$alibi" train "${model[@]}" --out-dir "$work/$name" "$@" >/dev/null
  else
    OMP_NUM_THREADS=$threads mpirun -np "$np" "$alibi" train "${model[@]}" --out-dir "$work/$name" "$@" >/dev/null
  fi
  /usr/bin/env python3 - "$work/$name/metrics.jsonl" "$name" <<'PY'
import json, statistics, sys
ms = [json.loads(l) for l in open(sys.argv[1])][1:]  # step 1 warms the allocator's cache
step = statistics.median(m["elapsed_s"] - p["elapsed_s"] for p, m in zip(ms, ms[1:]))
tps = statistics.median(m["tokens_per_s"] for m in ms)
pw = statistics.median(m.get("pipeline_wait_s", 0) for m in ms)
dw = statistics.median(m.get("dp_wait_s", 0) for m in ms)
win = statistics.median(m.get("dp_window_s", 0) for m in ms)
hidden = (1 - dw / win) if win > 0 else float("nan")
print(f"| {sys.argv[2]} | {tps:.0f} | {step:.2f} | {pw:.2f} ({pw / step:.0%}) | {dw:.3f} | {win:.3f} | {hidden:.0%} |")
PY
}
echo "| layout | tokens/s | step s | pipeline wait s (share) | DP wait s | DP window s | DP hidden |"
echo "|---|---|---|---|---|---|---|"
if [[ ${3:-} == pp-split ]]; then
  pp=(--micro-batch 2 --grad-accum 4 --pp 2)
  steps_only=1
  for round in $(seq "${4:-2}"); do
    echo "<!-- round $round: $(uptime) -->"
    run "np=2 pp=2 --pp-split 4,4 (even), round $round" 2 1 "${pp[@]}" --pp-split 4,4
    run "np=2 pp=2 --pp-split auto (5,3), round $round" 2 1 "${pp[@]}" --pp-split auto
  done
  echo "<!-- end: $(uptime) -->"
  exit 0
fi
run "np=1, 2 threads, micro-batch 8" 1 2 --micro-batch 8
run "np=2 tp=2, micro-batch 8" 2 1 --micro-batch 8 --tp 2
run "np=2 pp=2, 4 x micro-batch 2" 2 1 --micro-batch 2 --grad-accum 4 --pp 2
run "np=2 dp=2, micro-batch 4" 2 1 --micro-batch 4
