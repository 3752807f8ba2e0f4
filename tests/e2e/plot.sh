# launch/plot_metrics.sh on a small real run: three non-empty PNGs (loss with val_loss,
# tokens/s, learning rate) under the given prefix; a clear error for a missing file.
source "$(dirname "$0")/lib/common.bash"
if ! command -v gnuplot >/dev/null; then
  skip "gnuplot is not installed (launch/setup.sh installs gnuplot-nox)"
fi
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/run" --layers 2 --channels 32 --heads 4 --seq-len 32 \
  --micro-batch 2 --steps 40 --warmup 5 --eval-every 10 --eval-batches 2 --log-every 10 >/dev/null

"$SRC/launch/plot_metrics.sh" "$WORK/run/metrics.jsonl" "$WORK/plots/tiny" >"$WORK/plot.out" ||
  { cat "$WORK/plot.out" >&2; fail "plot_metrics.sh failed"; }
grep -q "(40 steps, 4 with val_loss)" "$WORK/plot.out" || { cat "$WORK/plot.out" >&2; fail "unexpected summary"; }
for kind in loss tokens_per_s lr; do
  png=$WORK/plots/tiny_$kind.png
  [[ -s $png ]] || fail "$png is missing or empty"
  [[ $(head -c 8 "$png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$png is not a PNG"
  echo "ok: $(basename "$png"): $(wc -c <"$png") bytes"
done
# The default prefix: next to the metrics file.
"$SRC/launch/plot_metrics.sh" "$WORK/run/metrics.jsonl" >/dev/null
[[ -s $WORK/run/metrics_loss.png && -s $WORK/run/metrics_lr.png && -s $WORK/run/metrics_tokens_per_s.png ]] ||
  fail "default prefix: PNGs not written beside metrics.jsonl"
expect_error missing-file "missing\.jsonl: cannot read it" "$SRC/launch/plot_metrics.sh" "$WORK/missing.jsonl"
echo "ok: plot"
