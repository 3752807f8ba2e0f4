#!/usr/bin/env bash
# Two alibi binaries on the same training run, alternately: training tokens/s of the main
# job's model (launch/configs/tiny.ini on the default BPE-8192 corpus) for a code change,
# measured as the developers' guide asks (same script, alternating, so a shared machine's
# load falls on both alike).
#
#   bench/ab_train.sh OLD_ALIBI NEW_ALIBI [ROUNDS] [STEPS] [-- extra train options]
#       defaults: 3 rounds, 30 steps; the median tokens/s of steps 6.. of each run and its
#       last loss (a change meant to keep the math shows the same loss), and each side's
#       median over its rounds
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || { sed -n 2,10p "$0"; exit 2; }
old=$1 new=$2 rounds=${3:-3} steps=${4:-30}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
corpus=${ALIBI_CORPUS:-$root/data-cache/linuxdoc-bpe8192.h5}
[[ -f $corpus ]] || { echo "ab_train.sh: no corpus at $corpus: run launch/main_job.sh once, or set ALIBI_CORPUS" >&2; exit 2; }
work=$(mktemp -d /tmp/alibi-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
median_rate() {  # metrics.jsonl -> median tokens_per_s of steps 6.., and the last step's loss
  python3 - "$1" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
rates = [m["tokens_per_s"] for m in lines if m["step"] >= 6]
print(f"{statistics.median(rates):.1f} {lines[-1]['loss']:.6f}")
PY
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# old: $old"
echo "# new: $new"
declare -A all=([old]="" [new]="")
for ((r = 1; r <= rounds; r++)); do
  for side in old new; do
    bin=$old
    [[ $side == new ]] && bin=$new
    out=$work/$side$r
    "$bin" train --config "$root/launch/configs/tiny.ini" --data "$corpus" --out-dir "$out" --steps "$steps" \
      --save-every 0 --eval-every 0 --eval-batches 1 --log-every 1000 "$@" >/dev/null 2>&1
    read -r rate loss < <(median_rate "$out/metrics.jsonl")
    all[$side]+="$rate "
    echo "round $r $side: $rate tokens/s, loss at step $steps $loss (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
for side in old new; do
  echo "$side median: $(python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" ${all[$side]}) tokens/s"
done
