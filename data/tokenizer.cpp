// The byte-level tokenizer and its /tokenizer group.
#include "data/tokenizer.h"

#include "runtime/error.h"

namespace alibi {

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::bytes: return "bytes";
  }
  return "?";
}

Tokenizer Tokenizer::bytes() { return Tokenizer{TokenizerKind::bytes, 257, 256}; }

void Tokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  out.reserve(out.size() + text.size());
  for (unsigned char byte : text) out.push_back(byte);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  encode(text, out);
  return out;
}

std::string Tokenizer::decode(const int32_t* ids, int64_t n) const {
  std::string text;
  text.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] == eos_id) continue;
    ALIBI_CHECK_AS(DataError, ids[i] >= 0 && ids[i] < 256,
                   "token id " << ids[i] << " at position " << i << " is not a byte (0..255) or EOS ("
                               << eos_id << ") of the " << describe() << " tokenizer");
    text.push_back(static_cast<char>(ids[i]));
  }
  return text;
}

void Tokenizer::write_to(h5::Location& group) const {
  group.set_string_attr("kind", tokenizer_kind_name(kind));
  group.set_int_attr("vocab_size", vocab_size);
  group.set_int_attr("eos_id", eos_id);
}

Tokenizer Tokenizer::read_from(const h5::Location& group) {
  const std::string where = group.file_path() + ": " + group.name();
  const std::string kind = group.string_attr("kind");
  ALIBI_CHECK_AS(DataError, kind == "bytes",
                 where << ": tokenizer kind '" << kind
                       << "' is not one this build reads (bytes); use the alibi that wrote the file");
  Tokenizer t = Tokenizer::bytes();
  const int64_t vocab = group.int_attr("vocab_size");
  const int64_t eos = group.int_attr("eos_id");
  ALIBI_CHECK_AS(DataError, vocab == t.vocab_size && eos == t.eos_id,
                 where << ": a bytes tokenizer has vocab_size 257 and eos_id 256, this one says " << vocab
                       << " and " << eos << "; the file is damaged, write it again");
  return t;
}

std::string Tokenizer::describe() const {
  return std::string(tokenizer_kind_name(kind)) + " (V=" + std::to_string(vocab_size) +
         ", EOS=" + std::to_string(eos_id) + ")";
}

}  // namespace alibi
