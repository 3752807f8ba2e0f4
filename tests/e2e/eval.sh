# alibi eval: a table, CSV and JSON for several checkpoints and lengths; bad input gives
# one clear error line each.
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" --valid-fraction 0.25 >/dev/null
small=(--data "$WORK/c.h5" --layers 1 --channels 16 --heads 2 --seq-len 16 --micro-batch 2 --steps 2 --warmup 1
       --eval-batches 1 --save-every 0)
"$ALIBI" train "${small[@]}" --out-dir "$WORK/alibi" >/dev/null
"$ALIBI" train "${small[@]}" --out-dir "$WORK/learned" --position learned >/dev/null
ck=$WORK/alibi/step_00000002.h5
"$ALIBI" eval --checkpoint "$ck" "$WORK/learned/step_00000002.h5" --lengths 8,16 --out "$WORK/out/e" >"$WORK/eval.out"
cat "$WORK/eval.out"
[[ $(grep -c '^alibi ' "$WORK/eval.out") -eq 2 && $(grep -c '^learned ' "$WORK/eval.out") -eq 2 ]] || fail "table rows"
[[ $(wc -l <"$WORK/out/e.csv") -eq 5 ]] || fail "CSV rows"
python3 -c 'import json,sys; rows=json.load(open(sys.argv[1])); assert len(rows)==4 and all(r["ppl"]>1 for r in rows), rows' "$WORK/out/e.json"
if command -v gnuplot >/dev/null; then [[ -s $WORK/out/e.png ]] || fail "no plot"; fi
"$ALIBI" eval --checkpoint "$ck" --lengths 32 --mode sliding --stride 8 --out "$WORK/out/s" >"$WORK/s.out"
grep -q sliding "$WORK/s.out" || fail "sliding row"

expect_error no-checkpoint "nope\.h5" "$ALIBI" eval --checkpoint "$WORK/nope.h5" --lengths 16
expect_error zero-length "--lengths" "$ALIBI" eval --checkpoint "$ck" --lengths 0
expect_error beyond-split "beyond the valid split" "$ALIBI" eval --checkpoint "$ck" --lengths 1000000
expect_error stride-above-window "--stride" "$ALIBI" eval --checkpoint "$ck" --lengths 16 --mode sliding --stride 17
expect_error learned-past-max "learned position" "$ALIBI" eval --checkpoint "$WORK/learned/step_00000002.h5" --lengths 32
expect_error bad-mode "--mode" "$ALIBI" eval --checkpoint "$ck" --mode strided
echo "ok: eval"
