# alibi preprocess --megatron PREFIX: a Megatron-LM indexed dataset (.idx + .bin, written
# here byte by byte from the documented layout, uint16 and int32) becomes a corpus with
# the same documents and tokens; a wrong magic, a truncated .bin or an id at or above the
# vocabulary size is one error line, a non-zero exit and no output file.
source "$(dirname "$0")/lib/common.bash"

# le N VALUE: VALUE as N little-endian bytes.
le() {
  local n=$1 v=$2 i out=""
  for ((i = 0; i < n; i++)); do out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255))); done
  printf "$out"
}

# write_megatron PREFIX CODE ITEM_BYTES: three documents of four sequences,
#   document 0 = [72 105] (one sequence), 1 = [33 256] (ends in EOS, as --append-eod
#   writes it), 2 = [10] + [20 30] (two sequences).
write_megatron() {
  local prefix=$1 code=$2 size=$3
  local -a seqs=("72 105" "33 256" "10" "20 30")
  : >"$prefix.bin"
  local -a lengths=() pointers=()
  local at=0 s t
  for s in "${seqs[@]}"; do
    pointers+=("$at")
    local n=0
    for t in $s; do le "$size" "$t" >>"$prefix.bin"; n=$((n + 1)); done
    lengths+=("$n")
    at=$((at + n * size))
  done
  {
    printf 'MMIDIDX\x00\x00'
    le 8 1; le 1 "$code"; le 8 4; le 8 4
    for n in "${lengths[@]}"; do le 4 "$n"; done
    for p in "${pointers[@]}"; do le 8 "$p"; done
    for d in 0 1 2 4; do le 8 "$d"; done
  } >"$prefix.idx"
}

expected="72 105 256 33 256 10 20 30 256"  # each document once, with one EOS
for variant in "uint16 8 2" "int32 4 4"; do
  read -r name code size <<<"$variant"
  write_megatron "$WORK/$name" "$code" "$size"
  "$ALIBI" preprocess --megatron "$WORK/$name" --output "$WORK/$name.h5" --tokenizer bytes \
    --valid-docs 0 --test-docs 0 >"$WORK/$name.txt" || { cat "$WORK/$name.txt"; fail "$name import failed"; }
  cat "$WORK/$name.txt"
  grep -q "3 Megatron documents (4 sequences, $name)" "$WORK/$name.txt" || fail "$name: summary"
  grep -q "1 already ended in EOS" "$WORK/$name.txt" || fail "$name: trailing EOS"
  h5dump -d /train/tokens -b LE -o "$WORK/$name.tokens" "$WORK/$name.h5" >/dev/null
  got=$(od -An -v -tu2 "$WORK/$name.tokens" | xargs)
  [[ $got == "$expected" ]] || fail "$name: tokens '$got', expected '$expected'"
  offsets=$(h5dump -d /train/doc_offsets -y "$WORK/$name.h5" | sed -n '/DATA {/,/}/p' | grep -oE '[0-9]+' | xargs)
  [[ $offsets == "0 3 5 9" ]] || fail "$name: doc_offsets '$offsets', expected '0 3 5 9'"
  echo "ok: $name import"
done

# ---- bad input ------------------------------------------------------------------------------
out=$WORK/bad.h5
no_output() { [[ ! -e $out && ! -e $out.tmp ]] || fail "$1 left an output file"; }

cp "$WORK/uint16.bin" "$WORK/magic.bin"
{ printf 'NOTMEGA\x00\x00'; tail -c +10 "$WORK/uint16.idx"; } >"$WORK/magic.idx"
expect_error wrong-magic "magic\.idx.*MMIDIDX" \
  "$ALIBI" preprocess --megatron "$WORK/magic" --output "$out" --tokenizer bytes; no_output wrong-magic

cp "$WORK/uint16.idx" "$WORK/short.idx"
head -c 13 "$WORK/uint16.bin" >"$WORK/short.bin"  # 7 tokens, 14 bytes whole
expect_error truncated-bin "short\.bin.*truncated" \
  "$ALIBI" preprocess --megatron "$WORK/short" --output "$out" --tokenizer bytes; no_output truncated-bin

cp "$WORK/uint16.idx" "$WORK/big.idx"
{ head -c 2 "$WORK/uint16.bin"; le 2 300; tail -c +5 "$WORK/uint16.bin"; } >"$WORK/big.bin"
expect_error id-above-vocab "big\.bin: document 0, token 1 is 300, at or above the vocabulary size 257" \
  "$ALIBI" preprocess --megatron "$WORK/big" --output "$out" --tokenizer bytes; no_output id-above-vocab

expect_error missing "nothere\.idx does not exist" \
  "$ALIBI" preprocess --megatron "$WORK/nothere" --output "$out" --tokenizer bytes; no_output missing
expect_error needs-tokenizer "--megatron imports tokens" \
  "$ALIBI" preprocess --megatron "$WORK/uint16" --output "$out" --tokenizer bpe; no_output needs-tokenizer
expect_error input-and-megatron "not both" \
  "$ALIBI" preprocess --megatron "$WORK/uint16" --input "$WORK" --output "$out"
echo "ok: preprocess megatron"
