# alibi preprocess end to end: text files and directories -> an HDF5 corpus that h5ls and
# h5dump read; the same inputs give the same file; bad input gives one error line, a
# non-zero exit and no output (an existing corpus is left as it was).
source "$(dirname "$0")/lib/common.bash"

# ---- a small tree of inputs -----------------------------------------------------------
in=$WORK/in
mkdir -p "$in/sub/deeper"
printf 'the first document\n' >"$in/a.txt"
printf 'second\0with a NUL and \xff bytes\n' >"$in/b.txt"
printf 'third, in a subdirectory\n' >"$in/sub/c.txt"
printf '# fourth, markdown\n' >"$in/sub/d.md"
printf 'fifth' >"$in/sub/deeper/e.rst"
: >"$in/empty.txt"
extra=$WORK/extra.txt
printf 'a file named on the command line\n' >"$extra"
docs=6
bytes=$(cat "$in/a.txt" "$in/b.txt" "$in/sub/c.txt" "$in/sub/d.md" "$in/sub/deeper/e.rst" "$extra" | wc -c)

# ---- a good run ----------------------------------------------------------------------------
"$ALIBI" preprocess --input "$in" "$extra" --output "$WORK/c.h5" >"$WORK/out.txt" \
  || { cat "$WORK/out.txt"; fail "preprocess exited non-zero"; }
cat "$WORK/out.txt"
grep -q "^alibi preprocess: $docs documents (1 empty documents skipped)" "$WORK/out.txt" || fail "summary: documents"
[[ -f $WORK/c.h5 ]] || fail "no output file"
[[ ! -e $WORK/c.h5.tmp ]] || fail "the temporary file was left behind"

h5ls -r "$WORK/c.h5" >"$WORK/ls.txt"
for object in /train/tokens /train/doc_offsets /valid/tokens /valid/doc_offsets /test/tokens /test/doc_offsets \
              /tokenizer; do
  grep -q "^$object " "$WORK/ls.txt" || { cat "$WORK/ls.txt"; fail "h5ls does not show $object"; }
done
# Every byte and one EOS per document, over the three splits.
tokens=$(grep -E '^/(train|valid|test)/tokens ' "$WORK/ls.txt" | sed -E 's/.*\{([0-9]+).*/\1/' |
  awk '{ n += $1 } END { print n }')
[[ $tokens -eq $((bytes + docs)) ]] || fail "tokens $tokens, expected $bytes bytes + $docs EOS"
# With >= 3 documents valid and test hold at least one each.
for s in valid test; do
  n=$(grep -E "^/$s/doc_offsets " "$WORK/ls.txt" | sed -E 's/.*\{([0-9]+).*/\1/')
  [[ $n -ge 2 ]] || fail "$s has no document"
done
h5dump -A "$WORK/c.h5" >"$WORK/attrs.txt"
for attr in format_version vocab_size eos_id source kind; do
  grep -q "ATTRIBUTE \"$attr\"" "$WORK/attrs.txt" || fail "h5dump shows no attribute $attr"
done
grep -q '"bytes"' "$WORK/attrs.txt" || fail "the tokenizer kind is not bytes"
echo "ok: good run ($docs documents, $tokens tokens)"

# The same inputs and seed give the same bytes; another seed another split.
"$ALIBI" preprocess --input "$in" "$extra" --output "$WORK/again.h5" >/dev/null
cmp -s "$WORK/c.h5" "$WORK/again.h5" || fail "a second run with the same inputs differs"
"$ALIBI" preprocess --input "$in" "$extra" --output "$WORK/seed.h5" --seed 7 --valid-fraction 0.3 >/dev/null
echo "ok: deterministic"

# --extensions filters directory entries (not files named on the command line).
"$ALIBI" preprocess --input "$in" "$extra" --output "$WORK/md.h5" --extensions .md,.rst >"$WORK/md.txt"
grep -q "^alibi preprocess: 3 documents" "$WORK/md.txt" || { cat "$WORK/md.txt"; fail "--extensions"; }
echo "ok: --extensions"

# ---- bad input -------------------------------------------------------------------------------
cp "$WORK/c.h5" "$WORK/before.h5"
expect_error missing-input "$WORK/no-such-dir.*does not exist" \
  "$ALIBI" preprocess --input "$in" "$WORK/no-such-dir" --output "$WORK/c.h5"
cmp -s "$WORK/c.h5" "$WORK/before.h5" || fail "a failed run changed the existing corpus"
expect_error missing-input-new "no-such-file" \
  "$ALIBI" preprocess --input "$WORK/no-such-file" --output "$WORK/new.h5"
[[ ! -e $WORK/new.h5 && ! -e $WORK/new.h5.tmp ]] || fail "a failed run left an output file"

expect_error unwritable-output "/etc/passwd/x\.h5" "$ALIBI" preprocess --input "$in" --output /etc/passwd/x.h5
expect_error output-is-directory "--output" "$ALIBI" preprocess --input "$in" --output "$WORK"

mkdir -p "$WORK/empties"
: >"$WORK/empties/1.txt"
: >"$WORK/empties/2.txt"
expect_error no-bytes "no documents.*empty" \
  "$ALIBI" preprocess --input "$WORK/empties" --output "$WORK/e.h5"
mkdir -p "$WORK/nothing"
expect_error no-files "no documents" "$ALIBI" preprocess --input "$WORK/nothing" --output "$WORK/e.h5"
[[ ! -e $WORK/e.h5 && ! -e $WORK/e.h5.tmp ]] || fail "an empty input left an output file"

expect_error missing-output "--output" "$ALIBI" preprocess --input "$in"
expect_error bad-fraction "--valid-fraction" \
  "$ALIBI" preprocess --input "$in" --output "$WORK/f.h5" --valid-fraction 0.6 --test-fraction 0.5
echo "ok: preprocess"
