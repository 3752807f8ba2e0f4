# Resuming from a checkpoint reproduces the uninterrupted run bit for bit (same build,
# same thread count): losses in metrics.jsonl and every tensor of the final checkpoint.
# The checkpoint's path alone is enough to resume: it holds every option.
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 12
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 48 --micro-batch 4 --grad-accum 2
      --steps 12 --warmup 3 --save-every 6 --keep 0 --eval-every 4 --eval-batches 2 --log-every 1)
"$ALIBI" train "${args[@]}" --out-dir "$WORK/a" >/dev/null
"$ALIBI" train "${args[@]}" --out-dir "$WORK/b" >/dev/null
# Interrupt b after step 6: drop what came later, then resume from the path alone.
rm "$WORK/b/step_00000012.h5"
"$ALIBI" train --resume "$WORK/b/step_00000006.h5" >"$WORK/resume.out"
grep -q "resumed from .*step_00000006.h5 at step 6" "$WORK/resume.out" || fail "no resume message"
[[ -f "$WORK/b/step_00000012.h5" ]] || fail "resumed run did not write its final checkpoint"
# Every logged value, and every tensor bit for bit.
expect_same_metrics "$WORK/b/metrics.jsonl" "$WORK/a/metrics.jsonl" 12
expect_same_checkpoint "$WORK/b/step_00000012.h5" "$WORK/a/step_00000012.h5"
# --resume auto picks the newest checkpoint.
"$ALIBI" train --resume auto --out-dir "$WORK/b" --data "$WORK/c.h5" --steps 12 >"$WORK/auto.out"
grep -q "step_00000012.h5 at step 12" "$WORK/auto.out" || fail "--resume auto did not take the newest checkpoint"
echo "ok: resume is bit-exact"
