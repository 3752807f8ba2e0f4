#!/usr/bin/env bash
# Plots a run's metrics.jsonl with gnuplot (pngcairo): three PNGs against the step,
#   PREFIX_loss.png          training loss, and val_loss where it was measured
#   PREFIX_tokens_per_s.png  throughput
#   PREFIX_lr.png            learning rate (warm-up, then cosine decay)
# PREFIX defaults to the metrics file without .jsonl (runs/x/metrics_loss.png, ...).
# A resumed run's metrics.jsonl already reads as one run (lines after the resumed step
# are dropped), so it plots as one.
#
#   launch/plot_metrics.sh runs/tiny/metrics.jsonl
#   launch/plot_metrics.sh runs/tiny/metrics.jsonl /tmp/tiny     # /tmp/tiny_loss.png, ...
#
# Needs gnuplot (launch/setup.sh installs gnuplot-nox).
set -euo pipefail
usage() {
  echo "usage: $0 METRICS.jsonl [OUT_PREFIX]   (writes OUT_PREFIX_{loss,tokens_per_s,lr}.png)" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
metrics=$1
prefix=${2:-${metrics%.jsonl}}
[[ -r $metrics ]] || { echo "$0: $metrics: cannot read it; give a run's metrics.jsonl" >&2; exit 2; }
command -v gnuplot >/dev/null ||
  { echo "$0: gnuplot is not installed: run launch/setup.sh (or apt-get install gnuplot-nox)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# metrics.jsonl -> columns step loss lr tokens_per_s val_loss, NaN where a field is absent.
# The lines are flat objects of numbers written by train/metrics.cpp, so a field is
# `"name": number`; awk reads them without a JSON library.
awk '
  function field(name,   m) {
    if (match($0, "\"" name "\": *[-+0-9.eEnaif]+")) {
      m = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", m); return m
    }
    return "NaN"
  }
  /^\{/ { print field("step"), field("loss"), field("lr"), field("tokens_per_s"), field("val_loss") }
' "$metrics" >"$tmp/metrics.dat"
rows=$(wc -l <"$tmp/metrics.dat")
((rows > 0)) || { echo "$0: $metrics holds no metrics lines" >&2; exit 2; }
# Columns 6 and 7: loss and tokens/s smoothed by an exponential moving average over
# ~rows/50 steps, so a long noisy run still shows its trend (raw values drawn thin beneath).
awk -v alpha="$(awk -v n="$rows" 'BEGIN { w = n / 50; print (w > 1 ? 1 / w : 1) }')" '
  { if (NR == 1) { l = $2; t = $4 } else { l += alpha * ($2 - l); t += alpha * ($4 - t) }
    print $0, l, t }' "$tmp/metrics.dat" >"$tmp/smooth.dat"
mv "$tmp/smooth.dat" "$tmp/metrics.dat"
has_val=$(awk '$5 != "NaN" { n++ } END { print n + 0 }' "$tmp/metrics.dat")
title=$(basename "$(dirname "$(realpath "$metrics")")")

mkdir -p "$(dirname "$prefix")"
val_plot=""
if ((has_val > 0)); then
  val_plot=", '$tmp/metrics.dat' using 1:5 with linespoints pt 7 ps 0.8 lw 2 lc rgb '#d62728' title 'val_loss'"
fi
gnuplot <<EOF
set terminal pngcairo size 900,560 noenhanced
set datafile missing "NaN"
set grid
set key top right
set xlabel "step"

set output "${prefix}_loss.png"
set title "$title: loss (nats/token)"
set ylabel "loss"
plot '$tmp/metrics.dat' using 1:2 with lines lw 1 lc rgb '#b0c4de' title 'loss', \
     '$tmp/metrics.dat' using 1:6 with lines lw 2 lc rgb '#1f4e9c' title 'loss (moving average)'$val_plot

set output "${prefix}_tokens_per_s.png"
set title "$title: throughput"
set ylabel "tokens/s"
set yrange [0:*]
plot '$tmp/metrics.dat' using 1:4 with lines lw 1 lc rgb '#b0c4de' title 'tokens/s', \
     '$tmp/metrics.dat' using 1:7 with lines lw 2 lc rgb '#1f4e9c' title 'tokens/s (moving average)'
set autoscale y

set output "${prefix}_lr.png"
set title "$title: learning rate"
set ylabel "lr"
set format y "%.1e"
plot '$tmp/metrics.dat' using 1:3 with lines lw 2 lc rgb '#1f4e9c' title 'lr'
EOF
echo "wrote ${prefix}_loss.png ${prefix}_tokens_per_s.png ${prefix}_lr.png ($rows steps, $has_val with val_loss)"
