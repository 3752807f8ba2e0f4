# A checkpoint that cannot be written (full disk, read-only out-dir) ends the run with one
# clear error line per rank and a clean non-zero exit (not 139: HDF5 1.10.8 used to
# crash in MPI_Finalize closing the half-closed file), the .tmp removed, and the previous
# checkpoint intact; the same under mpirun -np 2 at tp=2. Needs root to mount a tmpfs.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mnt=$WORK/mnt
mkdir -p "$mnt"
# 1200 KiB: the first checkpoint (~670 kB) fits, its successor's .tmp does not.
mount -t tmpfs -o size=1200k tmpfs "$mnt" 2>/dev/null || skip "cannot mount a tmpfs (needs root)"
trap 'code=$?; umount "$mnt" 2>/dev/null; e2e_exit $code' EXIT
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 48 --micro-batch 4 --warmup 1
      --save-every 2 --keep 0 --eval-every 0 --eval-batches 1)

# expect_intact DIR: step 2 is there and whole, nothing else is.
expect_intact() {
  [[ "$(cd "$1" && echo step_*)" == "step_00000002.h5" ]] || fail "$1 holds $(ls "$1"), expected step 2 alone"
  "$ALIBI" check "$1/step_00000002.h5" >/dev/null || fail "the previous checkpoint was damaged"
}

# Serial: exactly one line, exit 75 (requeue once the disk has room: launch/slurm holds the job).
expect_error full-disk "step_00000004\.h5\.tmp: cannot flush the file: No space left on device" \
  "$ALIBI" train "${args[@]}" --steps 6 --out-dir "$mnt/one"
[[ $EXPECT_ERROR_CODE -eq 75 ]] || fail "full disk: exit $EXPECT_ERROR_CODE, expected 75 (requeue after fixing)"
expect_intact "$mnt/one"
rm -rf "$mnt/one"

# Two ranks at tp=2: every rank says it (mpirun adds its own lines), exit non-zero, no crash.
code=0
mpirun -np 2 "$ALIBI" train "${args[@]}" --steps 6 --tp 2 --out-dir "$mnt/two" >"$WORK/two.out" 2>"$WORK/two.err" || code=$?
[[ $code -eq 75 ]] || { cat "$WORK/two.err" >&2; fail "mpirun exited $code, expected 75 (requeue after fixing)"; }
grep -q "Segmentation\|signal" "$WORK/two.err" && { cat "$WORK/two.err" >&2; fail "a rank crashed"; }
for r in 0 1; do
  grep -qE "step_00000004\.h5\.tmp: cannot flush the file.*\(rank $r on " "$WORK/two.err" ||
    { cat "$WORK/two.err" >&2; fail "rank $r did not report the failed write"; }
done
expect_intact "$mnt/two"
echo "ok: full disk at tp=2: $(grep -m1 "I/O error.*rank 0" "$WORK/two.err")"
rm -rf "$mnt/two"

# A read-only out-dir: resuming into it stops before any step.
"$ALIBI" train "${args[@]}" --steps 2 --out-dir "$mnt/ro" >/dev/null
mount -o remount,ro "$mnt"
expect_error read-only "mnt/ro/metrics\.jsonl: cannot rewrite the metrics file" \
  "$ALIBI" train --resume auto --out-dir "$mnt/ro" --steps 4
expect_intact "$mnt/ro"
echo "ok: full disk and read-only out-dir end cleanly, previous checkpoint intact"
