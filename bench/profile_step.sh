#!/usr/bin/env bash
# Where a training step's time goes: perf samples of bench_train's steady steps, grouped by
# part of the step (GEMM library, attention, OpenMP runtime, AdamW, LayerNorm, ...).
#
#   bench/profile_step.sh [--model bench|tiny] [--precision fp32|bf16] [--steps 8]
#                         [--delay-ms 9000] [--build build] [--threads 2]
#
# --delay-ms skips set-up and the two warm-up steps (the allocator's first touch of its
# memory); raise it for a slower machine. Needs Linux perf (Debian: linux-perf) and
# perf_event access (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=bench precision=fp32 steps=8 delay=9000 build=build threads=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --delay-ms) delay=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n "2,10p" "$0"; exit 0 ;;
    *) echo "profile_step.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
bench=$root/$build/bench/bench_train
[[ -x $bench ]] || { echo "profile_step.sh: $bench not built; run: cmake --build $build --target bench_train" >&2; exit 2; }
command -v perf >/dev/null || { echo "profile_step.sh: perf not found; install linux-perf" >&2; exit 2; }
work=$(mktemp -d /tmp/alibi-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "machine: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'); load $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=$threads perf record -q -D "$delay" -F 499 -o "$work/perf.data" \
  "$bench" --model "$model" --steps "$steps" --precision "$precision" >"$work/bench.json"
cat "$work/bench.json"
perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio -F overhead,dso,sym 2>/dev/null |
  /usr/bin/env python3 -c '
import collections, re, sys
parts = [("GEMM library (oneDNN JIT code, libdnnl, BLAS)", r"\[JIT\]|libdnnl|libopenblas|libblis"),
         ("OpenMP runtime (barriers, spin-waits)", r"libgomp"),
         ("attention (incl. expf)", r"attention|expf"),
         ("AdamW", r"adamw"),
         ("LayerNorm", r"layernorm"),
         ("LM head cross-entropy", r"vocab_ce|cross_entropy"),
         ("GELU", r"gelu|tanh"),
         ("bias add and bias gradients", r"linear_forward|linear_gelu|bias_grad|add_bias"),
         ("kernel (page faults, interrupts)", r"\[kernel"),
         ("memset/memcpy", r"mem(set|move|cpy)"),
         ("residual add", r"cpu::add<"),
         ("embedding", r"embedding")]
share = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(.*)", line)
    if not m: continue
    name = next((n for n, pat in parts if re.search(pat, m.group(2))), "other")
    share[name] += float(m.group(1))
total = sum(share.values()) or 1
print("| part | share of the sampled steps |")
print("|---|---|")
for name, v in share.most_common(): print(f"| {name} | {100 * v / total:.1f}% |")
'
