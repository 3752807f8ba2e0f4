# Bad input to alibi export: one error line each, a non-zero exit and no file left behind
# (neither FILE.gguf nor FILE.gguf.tmp). Needs no llama.cpp (export_gguf.sh runs the files).
source "$(dirname "$0")/lib/common.bash"
make_text_corpus "$WORK/text" 4
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
small=(--data "$WORK/c.h5" --layers 1 --channels 16 --heads 2 --seq-len 16 --micro-batch 2 --steps 1 --warmup 1
       --eval-every 0 --eval-batches 1 --save-every 0)
"$ALIBI" train "${small[@]}" --out-dir "$WORK/alibi" >/dev/null
ck=$WORK/alibi/step_00000001.h5
out=$WORK/m.gguf
no_output() { [[ ! -e $out && ! -e $out.tmp ]] || fail "$1 left an output file"; }

# Position methods llama.cpp's mpt cannot run: the error names the method and what exports.
for method in rotary t5 sinusoidal learned; do
  "$ALIBI" train "${small[@]}" --out-dir "$WORK/$method" --position "$method" >/dev/null
  expect_error "position-$method" "trained with --position $method, which llama\.cpp's mpt.*only alibi and none" \
    "$ALIBI" export --format gguf --checkpoint "$WORK/$method/step_00000001.h5" --out "$out"
  no_output "--position $method"
done
expect_error unwritable-out "cannot create .*/no/such/dir/m\.gguf\.tmp.*writable" \
  "$ALIBI" export --checkpoint "$ck" --out "$WORK/no/such/dir/m.gguf"
expect_error out-is-a-file-path "cannot create /etc/passwd/m\.gguf\.tmp" \
  "$ALIBI" export --checkpoint "$ck" --out /etc/passwd/m.gguf
expect_error unknown-dtype "--dtype must be f32, f16 or bf16 \(got 'q4_0'\)" \
  "$ALIBI" export --checkpoint "$ck" --out "$out" --dtype q4_0
no_output "--dtype q4_0"
expect_error unknown-format "--format onnx is not an export format; use gguf" \
  "$ALIBI" export --format onnx --checkpoint "$ck" --out "$out"
expect_error missing-checkpoint "--checkpoint .*nope\.h5: no such file" \
  "$ALIBI" export --checkpoint "$WORK/nope.h5" --out "$out"
expect_error missing-out "--out" "$ALIBI" export --checkpoint "$ck"
head -c 4096 /dev/urandom >"$WORK/corrupt.h5"
expect_error corrupt-checkpoint "corrupt\.h5" "$ALIBI" export --checkpoint "$WORK/corrupt.h5" --out "$out"
no_output "a corrupt checkpoint"

# And the good case writes the file whole, nothing else, and leaves the checkpoint as it was.
cp "$ck" "$WORK/before.h5"
"$ALIBI" export --checkpoint "$ck" --out "$out" >"$WORK/ok.txt" || { cat "$WORK/ok.txt"; fail "export failed"; }
cmp -s "$ck" "$WORK/before.h5" || fail "export changed the checkpoint"
[[ -s $out && ! -e $out.tmp ]] || fail "no $out, or a temporary left"
[[ $(head -c 4 "$out") == GGUF ]] || fail "$out does not start with GGUF"
grep -q "^wrote .*m\.gguf: llama\.cpp mpt, L=1 C=16 NH=2 F=64 V=257 T=16, 15 tensors" "$WORK/ok.txt" ||
  { cat "$WORK/ok.txt"; fail "summary line"; }
echo "ok: export errors"
