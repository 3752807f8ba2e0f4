# alibi preprocess with a BPE vocabulary trained on the corpus, end to end: directory,
# glob, JSON Lines and .gz inputs; the summary; the tokenizer stored in the corpus (and
# reused by --tokenizer-from); the same file for any thread count; a short training run
# on it; and bad input: one error line, a non-zero exit and no output file.
source "$(dirname "$0")/lib/common.bash"

# ---- inputs: 30 text files, a JSON Lines file (3 documents), a gzipped text ------------------
make_text_corpus "$WORK/text" 30
mkdir -p "$WORK/extra"
{
  printf '{"id": 1, "text": "A JSON Lines document.\\nWith a second line."}\n'
  printf '\n'
  printf '{"text": "caf\\u00e9 \\u65e5\\u672c", "meta": {"tags": ["x", "y"]}}\n'
  printf '{"text": "the third"}'
} >"$WORK/extra/docs.jsonl"
printf 'a gzipped document\n' | gzip >"$WORK/extra/z.txt.gz"
docs=34

# ---- a good run ----------------------------------------------------------------------------
"$ALIBI" preprocess --input "$WORK/text" "$WORK/extra/*.jsonl" "$WORK/extra/z.txt.gz" --output "$WORK/c.h5" \
  --tokenizer bpe --vocab 600 --threads 2 >"$WORK/out.txt" || { cat "$WORK/out.txt"; fail "preprocess failed"; }
cat "$WORK/out.txt"
grep -q "^alibi preprocess: $docs documents (0 empty documents skipped) in 32 files" "$WORK/out.txt" ||
  fail "summary: documents"
grep -q "merges learned" "$WORK/out.txt" || fail "summary: vocabulary"
grep -qE "^  [0-9.]+ bytes of text per token" "$WORK/out.txt" || fail "summary: bytes per token"
[[ ! -e $WORK/c.h5.tmp ]] || fail "the temporary file was left behind"
h5ls -r "$WORK/c.h5" >"$WORK/ls.txt"
for object in /tokenizer/merges /tokenizer/vocab_offsets /tokenizer/vocab_bytes /train/tokens; do
  grep -q "^$object " "$WORK/ls.txt" || { cat "$WORK/ls.txt"; fail "h5ls does not show $object"; }
done
grep -q '^/tokenizer/vocab_offsets .*{601}' "$WORK/ls.txt" || fail "vocab_offsets should hold V + 1 = 601 offsets"
h5dump -A -g /tokenizer "$WORK/c.h5" >"$WORK/attrs.txt"
grep -q '"bpe"' "$WORK/attrs.txt" || fail "the tokenizer kind is not bpe"
echo "ok: bpe corpus"

# The same inputs give the same bytes, whatever the thread count.
"$ALIBI" preprocess --input "$WORK/text" "$WORK/extra/*.jsonl" "$WORK/extra/z.txt.gz" --output "$WORK/again.h5" \
  --tokenizer bpe --vocab 600 --threads 1 >/dev/null
cmp -s "$WORK/c.h5" "$WORK/again.h5" || fail "one thread and two threads give different files"
echo "ok: deterministic"

# --tokenizer-from reuses the vocabulary for another corpus: the same /tokenizer group.
"$ALIBI" preprocess --input "$WORK/extra" --output "$WORK/reuse.h5" --tokenizer-from "$WORK/c.h5" \
  --valid-docs 1 --test-docs 0 >"$WORK/reuse.txt"
grep -q "tokenizer: bpe (V=600" "$WORK/reuse.txt" || { cat "$WORK/reuse.txt"; fail "--tokenizer-from"; }
diff <(h5dump -g /tokenizer "$WORK/c.h5" | tail -n +2) <(h5dump -g /tokenizer "$WORK/reuse.h5" | tail -n +2) \
  >/dev/null || fail "--tokenizer-from stored a different tokenizer"
echo "ok: --tokenizer-from"

# Training takes the corpus's vocabulary, and its checkpoint carries the tokenizer.
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/run" --layers 1 --channels 32 --heads 2 --seq-len 32 \
  --micro-batch 2 --steps 2 --eval-every 0 --save-every 2 --log-every 1 >"$WORK/train.txt" ||
  { cat "$WORK/train.txt"; fail "training on a BPE corpus failed"; }
h5dump -A -g /tokenizer "$WORK/run/step_00000002.h5" | grep -q '"bpe"' || fail "the checkpoint has no bpe tokenizer"
echo "ok: train on a bpe corpus"

# ---- bad input: one line, non-zero exit, no output ------------------------------------------
out=$WORK/bad.h5
no_output() { [[ ! -e $out && ! -e $out.tmp ]] || fail "$1 left an output file"; }

expect_error missing-input "nope\.txt.*does not exist" \
  "$ALIBI" preprocess --input "$WORK/nope.txt" --output "$out" --tokenizer bpe; no_output missing-input
expect_error glob-no-match "\*\.xyz.*matches no file" \
  "$ALIBI" preprocess --input "$WORK/extra/*.xyz" --output "$out"; no_output glob-no-match
printf '\n\n' >"$WORK/blank.jsonl"
expect_error empty-input "no documents: the 1 input files hold none" \
  "$ALIBI" preprocess --input "$WORK/blank.jsonl" --output "$out" --tokenizer bpe; no_output empty-input
printf '{"text": "fine"}\n{"text": "broken"\n' >"$WORK/bad.jsonl"
expect_error jsonl-not-json "bad\.jsonl:2: not a JSON object" \
  "$ALIBI" preprocess --input "$WORK/bad.jsonl" --output "$out"; no_output jsonl-not-json
printf '{"text": "fine"}\n\n{"body": "no text"}\n' >"$WORK/nofield.jsonl"
expect_error jsonl-no-field 'nofield\.jsonl:3: no "text" field' \
  "$ALIBI" preprocess --input "$WORK/nofield.jsonl" --output "$out" --tokenizer bpe; no_output jsonl-no-field
head -c 100000 /dev/urandom | gzip >"$WORK/whole.gz"
head -c 5000 "$WORK/whole.gz" >"$WORK/cut.txt.gz"
expect_error truncated-gz "cut\.txt\.gz.*truncated" \
  "$ALIBI" preprocess --input "$WORK/cut.txt.gz" --output "$out"; no_output truncated-gz
head -c 3000 "$WORK/c.h5" >"$WORK/truncated.h5"
expect_error truncated-h5 "truncated\.h5" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer-from "$WORK/truncated.h5"; no_output truncated-h5
expect_error not-h5 "docs\.jsonl" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer-from "$WORK/extra/docs.jsonl"
no_output not-h5
expect_error small-vocab "--vocab 100.*at least 257" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer bpe --vocab 100; no_output small-vocab
expect_error vocab-without-bpe "--vocab.*--tokenizer bpe" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --vocab 1000; no_output vocab-without-bpe
expect_error both-tokenizers "not both" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer bpe --tokenizer-from "$WORK/c.h5"
expect_error gpt2-files "--gpt2-files" "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer gpt2
expect_error gpt2-missing "encoder\.json" \
  "$ALIBI" preprocess --input "$WORK/extra" --output "$out" --tokenizer gpt2 --gpt2-files "$WORK/extra"
no_output gpt2-missing
echo "ok: preprocess bpe"
