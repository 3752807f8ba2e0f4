# A checkpoint resumes under another layout: 4 ranks at tp 2 x pp 2 save at step 2 and
# one process continues (the command line's --tp 1 --pp 1 win over the checkpoint's
# stored options); and the reverse. Steps 3-4 match the uninterrupted run's losses.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
# grad-accum 2: two micro-batches in flight through the two pipeline stages.
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --grad-accum 2
      --steps 4 --warmup 1 --lr 3e-3 --save-every 2 --keep 0 --eval-every 0 --eval-batches 1 --log-every 1)
parallel=(mpirun -np 4 "$ALIBI" train)

# The layouts differ only in the order of float sums (TP splits GEMM inner dimensions and
# the vocabulary's softmax sum), about 1e-7 relative per step; 1e-5 leaves room for the
# four AdamW steps to grow it and still catches a wrongly restored tensor (O(1e-2) and up).
compare_losses() { expect_resumed_losses "$1" "$2" 1e-5; }

# tp 2 x pp 2 (4 ranks) -> one process.
"${parallel[@]}" "${args[@]}" --tp 2 --pp 2 --out-dir "$WORK/p4" >"$WORK/p4.out" 2>&1 \
  || { cat "$WORK/p4.out" >&2; fail "4-rank run failed"; }
grep -q "layout tp=2 pp=2 dp=1" "$WORK/p4.out" || fail "expected layout tp=2 pp=2 dp=1"
"$ALIBI" train --resume "$WORK/p4/step_00000002.h5" --tp 1 --pp 1 --out-dir "$WORK/p4-to-1" >"$WORK/p4-to-1.out" \
  || fail "resuming the 4-rank checkpoint in one process failed"
grep -q "resumed from .*step_00000002.h5 at step 2" "$WORK/p4-to-1.out" || fail "no resume message"
grep -q "layout tp=1 pp=1 dp=1" "$WORK/p4-to-1.out" || fail "the command line's --tp 1 --pp 1 did not win"
echo "tp2 pp2 -> tp1 pp1:"
compare_losses "$WORK/p4/metrics.jsonl" "$WORK/p4-to-1/metrics.jsonl"

# One process -> tp 2 x pp 2.
"$ALIBI" train "${args[@]}" --out-dir "$WORK/s1" >/dev/null
"${parallel[@]}" --resume "$WORK/s1/step_00000002.h5" --tp 2 --pp 2 --out-dir "$WORK/s1-to-4" >"$WORK/s1-to-4.out" 2>&1 \
  || { cat "$WORK/s1-to-4.out" >&2; fail "resuming the 1-process checkpoint on 4 ranks failed"; }
grep -q "layout tp=2 pp=2 dp=1" "$WORK/s1-to-4.out" || fail "expected layout tp=2 pp=2 dp=1 after resuming"
echo "tp1 pp1 -> tp2 pp2:"
compare_losses "$WORK/s1/metrics.jsonl" "$WORK/s1-to-4/metrics.jsonl"
[[ -f "$WORK/s1-to-4/step_00000004.h5" ]] || fail "the resumed 4-rank run wrote no final checkpoint"
echo "ok: mpi resume across layouts"
