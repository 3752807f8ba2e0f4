# One rank's bad input under mpirun ends the whole job quickly (MPI_Abort from the rank
# that failed, no rank left waiting in a collective), with a non-zero exit and the error
# printed exactly once, naming the rank. A config error that every rank hits is printed
# once too (by rank 0).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
make_text_corpus "$WORK/text" 6
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/good.h5" >/dev/null
head -c 100000 /dev/urandom >"$WORK/corrupt.h5"
small=(--layers 2 --channels 32 --seq-len 32 --micro-batch 2 --steps 3 --warmup 1 --eval-batches 1)

# expect_one_error NAME PATTERN CMD...: CMD exits non-zero within 10 s and prints exactly
# one line starting 'alibi: ', matching PATTERN. (mpirun adds its own abort notice.)
expect_one_error() {
  local name=$1 pattern=$2; shift 2
  local code=0 t0=$EPOCHREALTIME
  timeout 60 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || code=$?
  local seconds; seconds=$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')")
  [[ $code -ne 0 ]] || fail "$name: exit code 0, expected an error"
  [[ $code -ne 124 ]] || fail "$name: still running after 60 s: a rank was left waiting"
  python3 -c "import sys; sys.exit(0 if $seconds < 10 else 1)" || fail "$name: took $seconds s, expected < 10 s"
  local lines; lines=$(grep -c '^alibi: ' "$WORK/$name.err" || true)
  [[ $lines -eq 1 ]] || { cat "$WORK/$name.err" >&2; fail "$name: $lines 'alibi: ' lines, expected 1"; }
  grep '^alibi: ' "$WORK/$name.err" | grep -qE -e "$pattern" \
    || { cat "$WORK/$name.err" >&2; fail "$name: error does not match /$pattern/"; }
  echo "ok: $name: exit $code after $seconds s: $(grep '^alibi: ' "$WORK/$name.err")"
}

# Rank 1 alone gets a bad corpus; rank 0's is fine (and waits for rank 1 in the grid's
# communicator split).
rank1_data=(mpirun -np 2 bash -c
  'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then D=$BAD; else D=$GOOD; fi; exec "$0" train --data "$D" "$@"'
  "$ALIBI" --out-dir "$WORK/run" "${small[@]}" --heads 4)
export GOOD="$WORK/good.h5"
BAD="$WORK/missing.h5" expect_one_error rank1-missing-corpus "missing\.h5.*rank 1 on" "${rank1_data[@]}"
BAD="$WORK/corrupt.h5" expect_one_error rank1-corrupt-corpus "corrupt\.h5.*rank 1 on" "${rank1_data[@]}"

# The same config error on every rank: printed once, by rank 0.
expect_one_error all-ranks-tp "world = tp\*pp\*dp.*--tp 3.*rank 0 on" \
  mpirun -np 2 "$ALIBI" train --data "$WORK/good.h5" --out-dir "$WORK/run" "${small[@]}" --heads 4 --tp 3
expect_one_error all-ranks-heads "NH % tp.*rank 0 on" \
  mpirun -np 2 "$ALIBI" train --data "$WORK/good.h5" --out-dir "$WORK/run" "${small[@]}" --heads 1 --tp 2
# A layout the position method does not support yet: every rank stops, none waits for a
# pipeline neighbour.
expect_one_error all-ranks-t5-pp "--position t5 with --pp 2.*use --pp 1.*rank 0 on" \
  mpirun -np 2 "$ALIBI" train --data "$WORK/good.h5" --out-dir "$WORK/run" "${small[@]}" --heads 4 --position t5 --pp 2
echo "ok: mpi bad rank"
