# Bad input to alibi train: one clear error line naming the file or option, a non-zero
# exit, and no good checkpoint replaced by a partial one.
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
small=(--layers 1 --channels 16 --heads 2 --seq-len 16 --micro-batch 2 --warmup 1 --eval-batches 1)

expect_error missing-corpus "nope\.h5.*(does not exist|alibi preprocess)" \
  "$ALIBI" train --data "$WORK/nope.h5" --out-dir "$WORK/r0" "${small[@]}"
: >"$WORK/empty.h5"
expect_error empty-corpus "empty\.h5" "$ALIBI" train --data "$WORK/empty.h5" --out-dir "$WORK/r1" "${small[@]}"
head -c 100000 /dev/urandom >"$WORK/corrupt.h5"
expect_error corrupt-corpus "corrupt\.h5" "$ALIBI" train --data "$WORK/corrupt.h5" --out-dir "$WORK/r2" "${small[@]}"
size=$(stat -c %s "$WORK/c.h5")
head -c $((size / 2)) "$WORK/c.h5" >"$WORK/truncated.h5"
expect_error truncated-corpus "truncated\.h5" "$ALIBI" train --data "$WORK/truncated.h5" --out-dir "$WORK/r3" "${small[@]}"
expect_error unwritable-out-dir "out-dir" "$ALIBI" train --data "$WORK/c.h5" --out-dir /etc/passwd/run "${small[@]}"
expect_error missing-data-flag "--data" "$ALIBI" train --out-dir "$WORK/r4" "${small[@]}"
expect_error unknown-option "--no-such-option" "$ALIBI" train --no-such-option 3
expect_error heads-not-dividing "--heads" "$ALIBI" train --data "$WORK/c.h5" --channels 16 --heads 3
expect_error zero-seq-len "--seq-len" "$ALIBI" train --data "$WORK/c.h5" --seq-len 0
expect_error missing-value "--steps" "$ALIBI" train --data "$WORK/c.h5" --steps
expect_error unknown-recompute "--recompute must be none, selective or full \(got 'some'\)" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/r5" "${small[@]}" --recompute some
expect_error split-sum "--pp-split 2 sums to 2 blocks, not --layers 1" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/r6" "${small[@]}" --pp-split 2
expect_error split-zero-stage "--pp-split 0: stage 0 has 0 blocks; every pipeline stage needs at least one" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/r7" "${small[@]}" --pp-split 0
expect_error split-stages "--pp-split 1,1 names 2 stages but --pp is 1; give one block count per stage, or --pp-split auto" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/r8" "${small[@]}" --pp-split 1,1
expect_error split-syntax "--pp-split must be auto or the blocks of each pipeline stage, e.g. 3,3,2 \(got '1;1'\)" \
  "$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/r9" "${small[@]}" --pp-split "1;1"

# A checkpoint of another shape: resuming it with a different --channels names the tensor.
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/good" "${small[@]}" --steps 2 --save-every 1 >/dev/null
cp "$WORK/good/step_00000002.h5" "$WORK/before.h5"
expect_error other-shape "step_00000002\.h5.*shape" \
  "$ALIBI" train --resume "$WORK/good/step_00000002.h5" --channels 32 --steps 4

# --resume of a file that is not there: the path, and the two ways to resume.
expect_error missing-resume "nope/step_00000009\.h5: no such checkpoint.*--resume auto" \
  "$ALIBI" train --resume "$WORK/nope/step_00000009.h5" --steps 4
# Resumed with a corpus of another tokenizer (bytes, V=257, against BPE, V=300): the error
# names both tokenizers, not a --vocab the user never gave (the checkpoint's).
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/bpe.h5" --tokenizer bpe --vocab 300 >/dev/null
expect_error other-tokenizer \
  "step_00000002\.h5: the checkpoint's tokenizer \(bytes.*differs from the corpus .*bpe\.h5's \(bpe \(V=300.*trained on" \
  "$ALIBI" train --resume "$WORK/good/step_00000002.h5" --data "$WORK/bpe.h5" --steps 4
# The same vocabulary size with other merges (BPE learnt from other text) differs too.
make_repeated_corpus "$WORK/rep"
"$ALIBI" preprocess --input "$WORK/rep" --output "$WORK/bpe_other.h5" --tokenizer bpe --vocab 300 >/dev/null
"$ALIBI" train --data "$WORK/bpe.h5" --out-dir "$WORK/bpe_run" "${small[@]}" --steps 1 >/dev/null
expect_error other-merges "step_00000001\.h5: the checkpoint's tokenizer \(bpe \(V=300.*differs from the corpus .*bpe_other\.h5's" \
  "$ALIBI" train --resume "$WORK/bpe_run/step_00000001.h5" --data "$WORK/bpe_other.h5" --steps 2
cmp "$WORK/good/step_00000002.h5" "$WORK/before.h5" || fail "a failed resume changed the checkpoint"
ls "$WORK/good" | grep -q '\.tmp' && fail "a temporary checkpoint was left behind"
echo "ok: bad input"
