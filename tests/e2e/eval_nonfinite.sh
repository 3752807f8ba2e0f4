# alibi eval never reports a non-finite loss or perplexity as a result: it exits non-zero
# with one line naming the checkpoint, the length and the window. The weights here are
# finite (loading rejects others) but so large that the logits overflow.
source "$(dirname "$0")/lib/common.bash"
/usr/bin/python3 -c "import h5py" 2>/dev/null || skip "no h5py for /usr/bin/python3 (apt-get install python3-h5py) to edit a checkpoint"
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" --valid-fraction 0.25 >/dev/null
"$ALIBI" train --data "$WORK/c.h5" --layers 1 --channels 16 --heads 2 --seq-len 16 --micro-batch 2 --steps 2 \
  --warmup 1 --eval-batches 1 --save-every 0 --out-dir "$WORK/run" >/dev/null
ck=$WORK/run/step_00000002.h5
"$ALIBI" eval --checkpoint "$ck" --lengths 16 --out "$WORK/good" >/dev/null || fail "the unedited checkpoint does not evaluate"
# edit NAME VALUE [ROW]: sets every element of the tensor, or of one row (h5py rewrites
# the checksum).
edit() {
  /usr/bin/python3 - "$ck" "$@" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f[sys.argv[2]][int(sys.argv[4]) if len(sys.argv) > 4 else Ellipsis] = float(sys.argv[3])
PY
}
# The final LayerNorm's gain at 1e38: the loss is huge but finite, its exp is not.
edit /model/ln_f.weight 1e38
"$ALIBI" check "$ck" >/dev/null || fail "the edited checkpoint is not a valid file (finite, checksums match)"
expect_error ppl-inf "step_00000002\.h5: at length 8 \(nonoverlapping, stride 8\) the loss is [0-9.e+]*, perplexity inf" \
  "$ALIBI" eval --checkpoint "$ck" --lengths 8,16 --out "$WORK/bad"
[[ ! -e "$WORK/bad.csv" ]] || fail "a CSV was written with a non-finite result"
# And row 0 of the embedding (tied: the output layer; byte 0 is never an input) at 1e30:
# that logit overflows, and so does the loss.
edit /model/embedding.weight 1e30 0
expect_error loss-nan "step_00000002\.h5: at length 16 \(sliding, stride 4\) the loss is -?(nan|inf), perplexity -?(nan|inf), first in the batch from window 0 \(tokens 0\+ of the valid split\)" \
  "$ALIBI" eval --checkpoint "$ck" --lengths 16 --mode sliding --stride 4 --out "$WORK/bad"
[[ ! -e "$WORK/bad.csv" ]] || fail "a CSV was written with a non-finite result"
