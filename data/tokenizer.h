// The tokenizer a corpus was made with. It is stored in the corpus's /tokenizer group and
// copied into every checkpoint, so train and eval refuse a corpus that does not match a
// model (the comparison covers kind, V, EOS, the vocabulary and every merge).
// Three kinds (data/FORMAT.md "/tokenizer"):
//   bytes  token = byte value 0..255, EOS = 256, V = 257
//   bpe    byte-level BPE trained by `alibi preprocess --tokenizer bpe` (data/bpe_trainer.h):
//          ids 0..255 are the bytes, then the merged tokens in the order learned, EOS = V - 1
//   gpt2   GPT-2's vocabulary, imported from encoder.json + vocab.bpe (data/gpt2_files.h):
//          the same ids as GPT-2's encoder, EOS = <|endoftext|> = 50256
// bpe and gpt2 both pre-split text as GPT-2 does (data/pretokenize.h) and merge bytes by
// rank; decoding returns the exact bytes of any input, valid UTF-8 or not.
//
//   Tokenizer tok = Tokenizer::bytes();
//   std::vector<int32_t> ids = tok.encode("hi");        // {104, 105}
//   std::string text = tok.decode(ids.data(), ids.size());
//   tok.write_to(file.create_group("tokenizer"));
//   ALIBI_CHECK_AS(DataError, Tokenizer::read_from(ckpt.group("tokenizer")) == tok, ...);
//
// Tokenizer::encode is for small texts; bulk encoding uses a TextEncoder per thread
// (data/text_encoder.h), which caches the ids of every piece it has seen.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/h5.h"

namespace alibi {

enum class TokenizerKind { bytes, bpe, gpt2 };

const char* tokenizer_kind_name(TokenizerKind kind);  // "bytes", "bpe", "gpt2"
TokenizerKind parse_tokenizer_kind(std::string_view name);  // ConfigError naming the choices

struct BpeTables;  // lookup tables built from vocab and merges (data/bpe_tables.h)

// A merge: the tokens `left` and `right`, adjacent, become one token (their bytes joined).
struct Merge {
  int32_t left, right;
  bool operator==(const Merge&) const = default;
};

inline constexpr const char* kEosName = "<|endoftext|>";  // vocab[eos_id] of bpe and gpt2

struct Tokenizer {
  TokenizerKind kind = TokenizerKind::bytes;
  int64_t vocab_size = 257;  // V
  int64_t eos_id = 256;      // ends every document
  // bpe and gpt2 only (empty for bytes):
  std::vector<std::string> vocab;  // (V) the bytes of each id; vocab[eos_id] = kEosName
  std::vector<Merge> merges;       // in rank order: merge i is applied before merge i+1

  static Tokenizer bytes();
  // A bpe or gpt2 tokenizer. Checks that the definition is whole: every byte is a token,
  // vocab entries are distinct, each merge joins two tokens into a third, EOS is in
  // range. DataError starting with `where` (e.g. "corpus.h5: /tokenizer") otherwise.
  static Tokenizer from_bpe(TokenizerKind kind, std::vector<std::string> vocab, std::vector<Merge> merges,
                            int64_t eos_id, const std::string& where);

  // Appends the ids of `text` (no EOS) to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;
  std::vector<int32_t> encode(std::string_view text) const;
  // The bytes of ids; EOS is skipped. An id outside [0, V) is a DataError.
  std::string decode(const int32_t* ids, int64_t n) const;

  // Attributes kind, vocab_size, eos_id on `group` (usually "/tokenizer"); for bpe and
  // gpt2 also the datasets merges, vocab_offsets and vocab_bytes (data/FORMAT.md).
  void write_to(h5::Location& group) const;
  // DataError naming the file and the field for a missing, unknown or inconsistent one.
  static Tokenizer read_from(const h5::Location& group);

  // "bpe (V=8192, EOS=8191, 7935 merges, fingerprint 3f2a9c01)", for mismatch messages.
  std::string describe() const;
  // 32 bits of a hash of the definition: tells two vocabularies apart in messages.
  uint32_t fingerprint() const;
  // The definition (kind, V, EOS, vocab, merges); the lookup tables follow from it.
  bool operator==(const Tokenizer& other) const;

  const std::shared_ptr<const BpeTables>& tables() const { return tables_; }  // null for bytes

 private:
  std::shared_ptr<const BpeTables> tables_;
};

}  // namespace alibi
