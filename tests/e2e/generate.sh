# alibi generate: a few training steps, then greedy generation twice (identical text), the
# three prompt forms, sampling with a seed, tp 2 under mpirun equal to one process, and
# one clear error line for each bad input.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
make_repeated_corpus "$WORK/text"
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
small=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --micro-batch 8 --warmup 5
       --lr 3e-3 --save-every 0 --eval-every 0 --eval-batches 1)
"$ALIBI" train "${small[@]}" --steps 40 --out-dir "$WORK/alibi" >/dev/null
"$ALIBI" train "${small[@]}" --steps 2 --out-dir "$WORK/learned" --position learned >/dev/null
ck=$WORK/alibi/step_00000040.h5
gen=("$ALIBI" generate --checkpoint "$ck")

# Greedy, twice: the same text; the statistics on stderr; 8x the training length.
"${gen[@]}" --prompt "abcdefgh" --max-new-tokens 256 --temperature 0 >"$WORK/g1.out" 2>"$WORK/g1.err"
"${gen[@]}" --prompt "abcdefgh" --max-new-tokens 256 --temperature 0 >"$WORK/g2.out" 2>/dev/null
cmp -s "$WORK/g1.out" "$WORK/g2.out" || fail "two greedy runs differ"
[[ $(wc -c <"$WORK/g1.out") -eq 256 ]] || fail "expected 256 bytes of text (byte tokenizer), got $(wc -c <"$WORK/g1.out")"
grep -qE "^prompt: 8 tokens .* generation: 256 tokens, 255 decode steps .*tokens/s.*peak RSS" "$WORK/g1.err" \
  || { cat "$WORK/g1.err" >&2; fail "statistics line"; }
echo "ok: greedy twice: $(head -c 60 "$WORK/g1.out")..."

# The same prompt as a file and as ids (bytes: id = byte value) gives the same text.
printf 'abcdefgh' >"$WORK/prompt.txt"
"${gen[@]}" --prompt-file "$WORK/prompt.txt" --max-new-tokens 256 --temperature 0 2>/dev/null | cmp -s - "$WORK/g1.out" \
  || fail "--prompt-file differs from --prompt"
"${gen[@]}" --prompt-ids 97,98,99,100,101,102,103,104 --max-new-tokens 256 --temperature 0 2>/dev/null \
  | cmp -s - "$WORK/g1.out" || fail "--prompt-ids differs from --prompt"
echo "ok: --prompt-file and --prompt-ids"

# Sampling: a seed repeats, another seed differs; a window (--max-context) still generates.
sample=(--prompt "abc" --max-new-tokens 64 --temperature 1.2 --top-k 20 --top-p 0.95)
a=$("${gen[@]}" "${sample[@]}" --seed 1 2>/dev/null | od -An -tx1)
b=$("${gen[@]}" "${sample[@]}" --seed 1 2>/dev/null | od -An -tx1)
c=$("${gen[@]}" "${sample[@]}" --seed 2 2>/dev/null | od -An -tx1)
[[ $a == "$b" ]] || fail "the same seed gave other text"
[[ $a != "$c" ]] || fail "seeds 1 and 2 gave the same text"
[[ $("${gen[@]}" --prompt "abcdefghijklmnop" --max-context 8 --max-new-tokens 40 --temperature 0 2>"$WORK/w.err" | wc -c) -eq 40 ]] \
  || fail "--max-context 8"
grep -q "first 8 tokens were dropped to fit --max-context 8" "$WORK/w.err" || fail "no note on the cut prompt"
echo "ok: sampling seeds and --max-context"

# tp 2 under mpirun: the same greedy and sampled text as one process.
if command -v mpirun >/dev/null; then
  OMP_NUM_THREADS=1 mpirun -np 2 "${gen[@]}" --tp 2 --prompt "abcdefgh" --max-new-tokens 256 --temperature 0 \
    >"$WORK/tp2.out" 2>"$WORK/tp2.err" || { cat "$WORK/tp2.err" >&2; fail "tp 2 run failed"; }
  cmp -s "$WORK/tp2.out" "$WORK/g1.out" || fail "tp 2 greedy text differs from one process"
  d=$(OMP_NUM_THREADS=1 mpirun -np 2 "${gen[@]}" --tp 2 "${sample[@]}" --seed 1 2>/dev/null | od -An -tx1)
  [[ $d == "$a" ]] || fail "tp 2 sampled text differs from one process"
  echo "ok: tp 2 equals one process"
fi

# Bad input: one line each.
expect_error empty-prompt "prompt is empty" "${gen[@]}" --prompt ""
expect_error no-prompt "give exactly one of --prompt" "${gen[@]}"
expect_error two-prompts "more than one prompt" "${gen[@]}" --prompt a --prompt-ids 1
expect_error id-outside-vocab "prompt token id 257 is outside the model's vocabulary \[0, 257\)" \
  "${gen[@]}" --prompt-ids 1,257
expect_error negative-id "prompt token id -3" "${gen[@]}" --prompt-ids 5,-3
expect_error bad-ids "--prompt-ids: 'x'" "${gen[@]}" --prompt-ids 1,x
expect_error top-p-zero "--top-p 0 is outside \(0, 1\]" "${gen[@]}" --prompt a --top-p 0
expect_error top-p-above-one "--top-p 1.5 is outside \(0, 1\]" "${gen[@]}" --prompt a --top-p 1.5
expect_error negative-temperature "--temperature -0.5 must be >= 0" "${gen[@]}" --prompt a --temperature -0.5
expect_error no-checkpoint "nope\.h5: no such file" "$ALIBI" generate --checkpoint "$WORK/nope.h5" --prompt a
expect_error prompt-file-missing "--prompt-file .*: cannot read" "${gen[@]}" --prompt-file "$WORK/nope.txt"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then  # with a GPU: e2e.train_gpu
  expect_error no-gpu "--device cuda needs one; run with --device cpu" "${gen[@]}" --prompt a --device cuda
fi
expect_error learned-past-table "past the learned position table's 32 rows" \
  "$ALIBI" generate --checkpoint "$WORK/learned/step_00000002.h5" --prompt abcdefgh --max-new-tokens 30
if command -v mpirun >/dev/null; then  # mpirun adds its own abort notice: one 'alibi: ' line
  code=0
  OMP_NUM_THREADS=1 mpirun -np 2 "${gen[@]}" --prompt a >/dev/null 2>"$WORK/world.err" || code=$?
  [[ $code -ne 0 && $(grep -c '^alibi: ' "$WORK/world.err") -eq 1 ]] && grep -q "2 ranks for --tp 1" "$WORK/world.err" \
    || { cat "$WORK/world.err" >&2; fail "world-not-tp: expected one error line"; }
  echo "ok: world-not-tp: $(grep '^alibi: ' "$WORK/world.err")"
fi
echo "ok: generate"
