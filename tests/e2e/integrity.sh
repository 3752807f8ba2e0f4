# Nothing read silently wrong: a damaged byte anywhere in a corpus's tokens or a
# checkpoint's tensor (also inside one TP shard of a checkpoint written at tp=2 under
# mpirun -np 2), a zero-length or truncated file, are each an error naming the file
# (and the tensor) before any step or score; `alibi check` says what a good file holds.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
/usr/bin/python3 -c "import h5py" 2>/dev/null || skip "no h5py for /usr/bin/python3 (apt-get install python3-h5py) to find a chunk's bytes"

# damage FILE DATASET AT [CHUNK]: flips the byte AT bytes into stored chunk CHUNK (default
# 0; "all": every chunk) of DATASET (AT < 0 counts from the chunk's end, where Fletcher32
# keeps its 4 bytes).
damage() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, h5py
path, name, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
which = sys.argv[4] if len(sys.argv) > 4 else "0"
with h5py.File(path, "r") as f:
    d = f[name].id
    chunks = range(d.get_num_chunks()) if which == "all" else [int(which)]
    infos = [d.get_chunk_info(i) for i in chunks]
with open(path, "r+b") as out:
    for info in infos:
        pos = info.byte_offset + (at if at >= 0 else info.size + at)
        out.seek(pos); b = out.read(1); out.seek(pos); out.write(bytes([b[0] ^ 0x5A]))
PY
}

make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
args=(--layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 2 --steps 2 --warmup 1
      --save-every 2 --keep 0 --eval-every 0 --eval-batches 1)
mpirun -np 2 "$ALIBI" train "${args[@]}" --data "$WORK/c.h5" --tp 2 --out-dir "$WORK/tp2" >/dev/null
ck=$WORK/tp2/step_00000002.h5

# Good files: what they hold, every checksum matched.
"$ALIBI" check "$WORK/c.h5" "$ck" >"$WORK/check.out"
grep -q "c.h5: corpus: train [0-9]* tokens.*every checksum matches" "$WORK/check.out" || fail "check of the corpus: $(cat "$WORK/check.out")"
grep -q "step_00000002.h5: checkpoint at step 2: .*every checksum matches; every value finite" "$WORK/check.out" ||
  fail "check of the checkpoint: $(cat "$WORK/check.out")"

# The corpus: a byte at the start, middle and end of the training tokens.
for at in 0 1000 -5; do
  cp "$WORK/c.h5" "$WORK/bad.h5"
  damage "$WORK/bad.h5" /train/tokens "$at"
  expect_error "corpus-check-$at" "bad\.h5: /train/tokens: .*checksum mismatch" "$ALIBI" check "$WORK/bad.h5"
done
# Training reads windows anywhere: damage every chunk, so its first read meets one.
cp "$WORK/c.h5" "$WORK/bad.h5"
damage "$WORK/bad.h5" /train/tokens 100 all
expect_error corpus-train "bad\.h5: /train/tokens: .*checksum mismatch" \
  "$ALIBI" train "${args[@]}" --data "$WORK/bad.h5" --out-dir "$WORK/from-bad-corpus"
[[ ! -e "$WORK/from-bad-corpus/metrics.jsonl" ]] || ! grep -q '"step"' "$WORK/from-bad-corpus/metrics.jsonl" ||
  fail "a step ran on a damaged corpus"

# The checkpoint: the fused QKV of block 1 is split by heads at tp=2; heads 2-3 (tp rank
# 1's shard) start at element 2*3*8*32 = 1536, byte 6144 of the stored chunk.
qkv=/model/blocks.1.attn.qkv.weight
for at in 0 6200 -5 -1; do
  cp "$ck" "$WORK/bad_ck.h5"
  damage "$WORK/bad_ck.h5" "$qkv" "$at"
  expect_error "ck-check-$at" "bad_ck\.h5: $qkv: .*checksum mismatch" "$ALIBI" check "$WORK/bad_ck.h5"
done
cp "$ck" "$WORK/bad_ck.h5"
damage "$WORK/bad_ck.h5" "$qkv" 6200
expect_error ck-eval "bad_ck\.h5: $qkv: .*checksum mismatch" \
  "$ALIBI" eval --checkpoint "$WORK/bad_ck.h5" --lengths 16 --out "$WORK/eval-bad"
[[ ! -s "$WORK/eval-bad.csv" ]] || fail "eval scored a damaged checkpoint"
# Under mpirun at tp=2 (mpirun adds its own lines after the abort: grep, not one line).
code=0
mpirun -np 2 "$ALIBI" train --resume "$WORK/bad_ck.h5" --steps 4 --tp 2 --out-dir "$WORK/tp2-resume" \
  >"$WORK/mpi.out" 2>"$WORK/mpi.err" || code=$?
[[ $code -ne 0 ]] || fail "resume at tp=2 from a damaged shard exited 0"
grep -qE "bad_ck\.h5: $qkv: .*checksum mismatch" "$WORK/mpi.err" || { cat "$WORK/mpi.err" >&2; fail "resume at tp=2: no checksum error naming the tensor"; }
grep -q "step 3" "$WORK/mpi.out" && fail "a step ran from a damaged checkpoint"
echo "ok: tp=2 resume: $(grep -m1 "checksum mismatch" "$WORK/mpi.err")"
# A damaged optimizer moment too.
cp "$ck" "$WORK/bad_m.h5"
damage "$WORK/bad_m.h5" /optimizer/embedding.weight/m 40
expect_error ck-moment "bad_m\.h5: /optimizer/embedding\.weight/m: .*checksum mismatch" \
  "$ALIBI" train --resume "$WORK/bad_m.h5" --steps 4 --tp 1 --out-dir "$WORK/resume-m"

# Zero-length and truncated files.
: >"$WORK/empty.h5"
expect_error check-empty "empty\.h5: the file is empty \(0 bytes\)" "$ALIBI" check "$WORK/empty.h5"
expect_error eval-empty "empty\.h5: the file is empty \(0 bytes\)" "$ALIBI" eval --checkpoint "$WORK/empty.h5" --lengths 16
head -c $(( $(stat -c %s "$ck") / 2 )) "$ck" >"$WORK/half.h5"
expect_error check-truncated "half\.h5: the HDF5 file is truncated" "$ALIBI" check "$WORK/half.h5"
expect_error resume-truncated "half\.h5: the HDF5 file is truncated" "$ALIBI" train --resume "$WORK/half.h5" --steps 4 --tp 1
head -c $(( $(stat -c %s "$WORK/c.h5") / 2 )) "$WORK/c.h5" >"$WORK/half_c.h5"
expect_error check-truncated-corpus "half_c\.h5: the HDF5 file is truncated" "$ALIBI" check "$WORK/half_c.h5"
echo "ok: damaged, empty and truncated files are errors naming file and tensor"
