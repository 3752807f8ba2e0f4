#!/usr/bin/env bash
# Our training step against PyTorch's on the same model, machine and batch, measured in one
# run and alternating (ours, PyTorch, ours, PyTorch, ...), so a box whose speed moves by
# 1.5x between hours moves both sides alike. Every speed claim against PyTorch in
# bench/RESULTS.md comes from this script.
#
#   bench/vs_pytorch.sh [--rounds 3] [--models "tiny bench"] [--precisions "fp32 bf16"]
#                       [--threads 2] [--build build] [--out DIR] [--peak GFLOPS]
#
# Per model and round: bench/bench_train (each precision), then bench/pytorch_reference.py
# (Debian's torch at its best: tcmalloc, OpenMP OpenBLAS; fp32). Around the rounds, the
# fp32 GEMM rate of our library on one bench-model shape (bench_gemm, "fc fwd C=512"),
# so a slow hour shows. Prints a markdown table: median tokens/s of each side, the ratio
# (median of the per-round ratios, with its min..max), each side's model FLOP/s as a share
# of --peak GFLOP/s (default: the larger of the two GEMM rates measured here, since a VM's
# clock and core type are not always known: on 2026-12-04 the "2-core Zen 4" box reported
# CPU family 26, Zen 5, and its sgemm ran past the Zen 4 peak); raw JSON lines in DIR/runs.jsonl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=3 models="tiny bench" precisions="fp32 bf16" threads=2 build=build out="" peak=""
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --precisions) precisions=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --peak) peak=$2; shift 2 ;;
    -h|--help) sed -n "2,19p" "$0"; exit 0 ;;
    *) echo "vs_pytorch.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
out=${out:-/tmp/vs_pytorch.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

ours="$build/bench/bench_train"
gemm="$build/bench/bench_gemm"
for f in "$ours" "$gemm"; do
  [[ -x $f ]] || { echo "vs_pytorch.sh: $f not built; run: cmake --build $build --target bench_train bench_gemm" >&2; exit 2; }
done
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if ! /usr/bin/python3 -c "import torch" 2>/dev/null || [[ ! -e $TCMALLOC ]]; then
  echo "vs_pytorch.sh: needs Debian's torch and tcmalloc: ALIBI_SETUP_EXTRAS=1 launch/setup.sh" >&2
  exit 2
fi
export OMP_NUM_THREADS=$threads

gemm_rate() {  # GFLOP/s of our fp32 GEMM on the bench model's MLP-up shape
  "$gemm" 4096 1 | awk '/^fc fwd   C=512/ { print $7 }'
}

steps_for() { [[ $1 == tiny ]] && echo 20 || echo 4; }
min_time_for() { [[ $1 == tiny ]] && echo 10 || echo 20; }

echo "machine: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $threads threads, $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gemm: $("$gemm" 64 0.01 | head -1)"
g0=$(gemm_rate)
echo "{\"kind\": \"gemm\", \"when\": \"before\", \"gflops\": $g0}" >>"$out/runs.jsonl"
for model in $models; do
  for ((r = 1; r <= rounds; ++r)); do
    for p in $precisions; do
      line=$("$ours" --model "$model" --steps "$(steps_for "$model")" --precision "$p")
      echo "{\"kind\": \"ours\", \"round\": $r, \"run\": $line}" >>"$out/runs.jsonl"
      echo "round $r $model ours $p: $(echo "$line" | sed -E 's/.*"tokens_per_s": ([0-9.]+).*/\1/') tokens/s" >&2
    done
    line=$(LD_PRELOAD=$TCMALLOC /usr/bin/python3 bench/pytorch_reference.py --model "$model" --threads "$threads" \
             --steps "$(steps_for "$model")" --min-time "$(min_time_for "$model")")
    echo "{\"kind\": \"pytorch\", \"round\": $r, \"run\": $line}" >>"$out/runs.jsonl"
    echo "round $r $model pytorch: $(echo "$line" | sed -E 's/.*"tokens_per_s": ([0-9.]+).*/\1/') tokens/s" >&2
  done
done
g1=$(gemm_rate)
echo "{\"kind\": \"gemm\", \"when\": \"after\", \"gflops\": $g1}" >>"$out/runs.jsonl"

[[ -n $peak ]] || peak=$(awk -v a="$g0" -v b="$g1" 'BEGIN { print (a > b ? a : b) }')
/usr/bin/python3 - "$out/runs.jsonl" "$peak" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peak = float(sys.argv[2])
gemm = {r["when"]: r["gflops"] for r in rows if r["kind"] == "gemm"}
print(f"\nour fp32 GEMM (fc fwd C=512): {gemm['before']} GFLOP/s before, {gemm['after']} after; MFU = model FLOP/s over {peak} GFLOP/s\n")
print("| model | ours (precision) tokens/s | PyTorch fp32 tokens/s | ratio (min..max) | our MFU | PyTorch MFU | rounds |")
print("|---|---|---|---|---|---|---|")
models = sorted({r["run"]["model"] for r in rows if r["kind"] != "gemm"}, key=["tiny", "bench"].index)
for m in models:
    theirs = {r["round"]: r["run"] for r in rows if r["kind"] == "pytorch" and r["run"]["model"] == m}
    for prec in sorted({r["run"]["precision"] for r in rows if r["kind"] == "ours" and r["run"]["model"] == m}):
        ours = {r["round"]: r["run"] for r in rows if r["kind"] == "ours" and r["run"]["model"] == m
                and r["run"]["precision"] == prec}
        rs = sorted(set(ours) & set(theirs))
        ratios = [ours[k]["tokens_per_s"] / theirs[k]["tokens_per_s"] for k in rs]
        o = statistics.median(ours[k]["tokens_per_s"] for k in rs)
        t = statistics.median(theirs[k]["tokens_per_s"] for k in rs)
        mo = statistics.median(ours[k]["model_gflops"] for k in rs) / peak
        mt = statistics.median(theirs[k]["model_gflops"] for k in rs) / peak
        print(f"| {m} | {o:,.0f} ({prec}, {ours[rs[0]]['gemm']}) | {t:,.0f} | **{statistics.median(ratios):.2f}x** "
              f"({min(ratios):.2f}..{max(ratios):.2f}) | {mo:.0%} | {mt:.0%} | {len(rs)} |")
EOF
echo "raw: $out/runs.jsonl"
