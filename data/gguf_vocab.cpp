// Tokenizer -> llama.cpp's gpt2 tokenizer model.
#include "data/gguf_vocab.h"

#include <unordered_set>

#include "data/gpt2_files.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace alibi {

GgufVocab gguf_vocab(const Tokenizer& tok) {
  const std::array<char32_t, 256> to_unicode = gpt2_byte_to_unicode();
  auto spell = [&](const std::string& bytes) {
    std::string out;
    for (unsigned char b : bytes) append_utf8(to_unicode[b], out);
    return out;
  };
  GgufVocab v;
  v.eos_id = tok.eos_id;
  v.tokens.reserve(static_cast<size_t>(tok.vocab_size));
  if (tok.kind == TokenizerKind::bytes) {
    for (int b = 0; b < 256; ++b) v.tokens.push_back(spell(std::string(1, static_cast<char>(b))));
    v.tokens.push_back(kEosName);  // id 256
  } else {
    // EOS keeps its name: llama.cpp finds control tokens by their text, unspelled.
    for (int64_t id = 0; id < tok.vocab_size; ++id)
      v.tokens.push_back(id == tok.eos_id ? std::string(kEosName) : spell(tok.vocab[static_cast<size_t>(id)]));
    v.merges.reserve(tok.merges.size());
    for (const Merge& m : tok.merges)
      v.merges.push_back(v.tokens[static_cast<size_t>(m.left)] + " " + v.tokens[static_cast<size_t>(m.right)]);
  }
  ALIBI_CHECK_AS(DataError, static_cast<int64_t>(v.tokens.size()) == tok.vocab_size && tok.eos_id >= 0 &&
                                tok.eos_id < tok.vocab_size,
                 "tokenizer " << tok.describe() << " has " << v.tokens.size() << " tokens for V=" << tok.vocab_size);
  // Spelling is one-to-one on bytes, so only EOS's name could meet a learned token's text.
  std::unordered_set<std::string> seen;
  for (const std::string& t : v.tokens)
    ALIBI_CHECK_AS(DataError, seen.insert(t).second,
                   "tokenizer " << tok.describe() << ": two ids spell '" << t
                                << "' in llama.cpp's vocabulary, which looks ids up by text; it cannot be exported");
  v.token_types.assign(v.tokens.size(), kGgufTokenNormal);
  v.token_types[static_cast<size_t>(tok.eos_id)] = kGgufTokenControl;
  return v;
}

}  // namespace alibi
