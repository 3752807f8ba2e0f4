// The tokenizer's definition: kinds, validation, decoding and the /tokenizer group.
#include "data/tokenizer.h"

#include <cstdio>

#include "data/bpe_tables.h"
#include "data/text_encoder.h"
#include "runtime/error.h"

namespace alibi {

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::bytes: return "bytes";
    case TokenizerKind::bpe: return "bpe";
    case TokenizerKind::gpt2: return "gpt2";
  }
  return "?";
}

TokenizerKind parse_tokenizer_kind(std::string_view name) {
  for (TokenizerKind k : {TokenizerKind::bytes, TokenizerKind::bpe, TokenizerKind::gpt2})
    if (name == tokenizer_kind_name(k)) return k;
  throw ConfigError("--tokenizer " + std::string(name) + " is not one of bytes, bpe, gpt2");
}

Tokenizer Tokenizer::bytes() { return Tokenizer{}; }

Tokenizer Tokenizer::from_bpe(TokenizerKind kind, std::vector<std::string> vocab, std::vector<Merge> merges,
                              int64_t eos_id, const std::string& where) {
  ALIBI_CHECK(kind != TokenizerKind::bytes, "Tokenizer::from_bpe needs kind bpe or gpt2");
  Tokenizer t;
  t.kind = kind;
  t.vocab_size = static_cast<int64_t>(vocab.size());
  t.eos_id = eos_id;
  t.tables_ = BpeTables::build(vocab, merges, eos_id, where);
  t.vocab = std::move(vocab);
  t.merges = std::move(merges);
  return t;
}

// ---- encode / decode -------------------------------------------------------------------

void Tokenizer::encode(std::string_view text, std::vector<int32_t>& out) const {
  TextEncoder(*this).encode(text, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  encode(text, out);
  return out;
}

std::string Tokenizer::decode(const int32_t* ids, int64_t n) const {
  std::string text;
  text.reserve(static_cast<size_t>(n) * (kind == TokenizerKind::bytes ? 1 : 4));
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] == eos_id) continue;
    ALIBI_CHECK_AS(DataError, ids[i] >= 0 && ids[i] < vocab_size,
                   "token id " << ids[i] << " at position " << i << " is outside the vocabulary [0, " << vocab_size
                               << ") of the " << describe() << " tokenizer");
    if (kind == TokenizerKind::bytes) {
      text.push_back(static_cast<char>(ids[i]));
    } else {
      text += vocab[static_cast<size_t>(ids[i])];
    }
  }
  return text;
}

// ---- identity ---------------------------------------------------------------------------

bool Tokenizer::operator==(const Tokenizer& o) const {
  return kind == o.kind && vocab_size == o.vocab_size && eos_id == o.eos_id && merges == o.merges &&
         vocab == o.vocab;
}

uint32_t Tokenizer::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  auto mix = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 0x100000001b3ull;
  };
  const int64_t head[3] = {static_cast<int64_t>(kind), vocab_size, eos_id};
  mix(head, sizeof head);
  for (const std::string& v : vocab) {
    const uint64_t len = v.size();
    mix(&len, sizeof len);
    mix(v.data(), v.size());
  }
  if (!merges.empty()) mix(merges.data(), merges.size() * sizeof(Merge));
  return static_cast<uint32_t>(h ^ (h >> 32));
}

std::string Tokenizer::describe() const {
  std::string s = std::string(tokenizer_kind_name(kind)) + " (V=" + std::to_string(vocab_size) +
                  ", EOS=" + std::to_string(eos_id);
  if (kind != TokenizerKind::bytes) {
    char fp[16];
    std::snprintf(fp, sizeof fp, "%08x", fingerprint());
    s += ", " + std::to_string(merges.size()) + " merges, fingerprint " + fp;
  }
  return s + ")";
}

// ---- the /tokenizer group ---------------------------------------------------------------------

void Tokenizer::write_to(h5::Location& group) const {
  group.set_string_attr("kind", tokenizer_kind_name(kind));
  group.set_int_attr("vocab_size", vocab_size);
  group.set_int_attr("eos_id", eos_id);
  if (kind == TokenizerKind::bytes) return;

  std::vector<int32_t> pairs;
  pairs.reserve(merges.size() * 2);
  for (const Merge& m : merges) pairs.push_back(m.left), pairs.push_back(m.right);
  group.create_dataset("merges", DType::i32, {static_cast<int64_t>(merges.size()), 2}).write_all(pairs);

  // Token bytes back to back, one byte per uint16 element (the HDF5 layer has no 8-bit
  // type; 2 x 330 kB for GPT-2's 50257 tokens).
  std::vector<int64_t> offsets{0};
  std::vector<uint16_t> bytes;
  for (const std::string& v : vocab) {
    for (unsigned char c : v) bytes.push_back(c);
    offsets.push_back(static_cast<int64_t>(bytes.size()));
  }
  group.create_dataset("vocab_offsets", DType::i64, {static_cast<int64_t>(offsets.size())}).write_all(offsets);
  group.create_dataset("vocab_bytes", DType::u16, {static_cast<int64_t>(bytes.size())}).write_all(bytes);
}

Tokenizer Tokenizer::read_from(const h5::Location& group) {
  const std::string where = group.file_path() + ": " + group.name();
  const char* fix = "; the file is damaged, write it again";
  const std::string kind_name = group.string_attr("kind");
  const int64_t vocab = group.int_attr("vocab_size");
  const int64_t eos = group.int_attr("eos_id");
  if (kind_name == "bytes") {
    Tokenizer t = Tokenizer::bytes();
    ALIBI_CHECK_AS(DataError, vocab == t.vocab_size && eos == t.eos_id,
                   where << ": a bytes tokenizer has vocab_size 257 and eos_id 256, this one says " << vocab << " and "
                         << eos << fix);
    return t;
  }
  ALIBI_CHECK_AS(DataError, kind_name == "bpe" || kind_name == "gpt2",
                 where << ": tokenizer kind '" << kind_name
                       << "' is not one this build reads (bytes, bpe, gpt2); use the alibi that wrote the file");
  const TokenizerKind kind = kind_name == "bpe" ? TokenizerKind::bpe : TokenizerKind::gpt2;
  ALIBI_CHECK_AS(DataError, vocab >= 257 && vocab <= (int64_t{1} << 30),
                 where << ": vocab_size " << vocab << " is outside [257, 2^30]" << fix);
  for (const char* name : {"merges", "vocab_offsets", "vocab_bytes"})
    ALIBI_CHECK_AS(DataError, group.exists(name),
                   where << ": a " << kind_name << " tokenizer needs the dataset '" << name << "', which is missing"
                         << fix);

  h5::Dataset merges_ds = group.dataset("merges");
  const std::vector<int64_t> mshape = merges_ds.shape();
  ALIBI_CHECK_AS(DataError, mshape.size() == 2 && mshape[1] == 2,
                 where << "/merges: expected shape (M, 2) of (left, right) ids" << fix);
  const std::vector<int32_t> pairs = merges_ds.read_all<int32_t>();
  std::vector<Merge> merges(pairs.size() / 2);
  for (size_t i = 0; i < merges.size(); ++i) merges[i] = Merge{pairs[2 * i], pairs[2 * i + 1]};

  h5::Dataset offsets_ds = group.dataset("vocab_offsets");
  h5::Dataset bytes_ds = group.dataset("vocab_bytes");
  ALIBI_CHECK_AS(DataError, offsets_ds.shape() == std::vector<int64_t>{vocab + 1},
                 where << "/vocab_offsets: expected vocab_size + 1 = " << vocab + 1 << " offsets" << fix);
  ALIBI_CHECK_AS(DataError, bytes_ds.shape().size() == 1, where << "/vocab_bytes: expected a 1-D array" << fix);
  const std::vector<int64_t> offsets = offsets_ds.read_all<int64_t>();
  const std::vector<int32_t> bytes = bytes_ds.read_all<int32_t>();
  ALIBI_CHECK_AS(DataError, offsets.front() == 0 && offsets.back() == static_cast<int64_t>(bytes.size()),
                 where << "/vocab_offsets: must run from 0 to the length of vocab_bytes (" << bytes.size() << ")"
                       << fix);
  std::vector<std::string> tokens(static_cast<size_t>(vocab));
  for (int64_t id = 0; id < vocab; ++id) {
    const int64_t a = offsets[static_cast<size_t>(id)], b = offsets[static_cast<size_t>(id) + 1];
    ALIBI_CHECK_AS(DataError, a <= b, where << "/vocab_offsets: decrease at id " << id << fix);
    std::string& s = tokens[static_cast<size_t>(id)];
    for (int64_t k = a; k < b; ++k) {
      const int32_t byte = bytes[static_cast<size_t>(k)];
      ALIBI_CHECK_AS(DataError, byte >= 0 && byte < 256,
                     where << "/vocab_bytes: element " << k << " is " << byte << ", not a byte" << fix);
      s.push_back(static_cast<char>(byte));
    }
  }
  return from_bpe(kind, std::move(tokens), std::move(merges), eos, where);
}

}  // namespace alibi
