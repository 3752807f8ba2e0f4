// The tokenizer a corpus was made with, stored in its /tokenizer group and copied into
// every checkpoint, so train and eval can refuse a corpus that does not match a model.
// Byte-level for now: token = byte value 0..255, EOS = 256, V = 257 (data/FORMAT.md).
//
//   Tokenizer tok = Tokenizer::bytes();
//   std::vector<int32_t> ids = tok.encode("hi");        // {104, 105}
//   tok.write_to(file.create_group("tokenizer"));
//   ALIBI_CHECK_AS(DataError, Tokenizer::read_from(ckpt.group("tokenizer")) == tok, ...);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/h5.h"

namespace alibi {

enum class TokenizerKind { bytes };

const char* tokenizer_kind_name(TokenizerKind kind);

struct Tokenizer {
  TokenizerKind kind = TokenizerKind::bytes;
  int64_t vocab_size = 257;  // V
  int64_t eos_id = 256;      // ends every document

  static Tokenizer bytes();

  // Appends the ids of `text` (no EOS) to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;
  std::vector<int32_t> encode(std::string_view text) const;
  // Text of ids; EOS is skipped. An id outside [0, V) is a DataError.
  std::string decode(const int32_t* ids, int64_t n) const;

  // Attributes kind, vocab_size, eos_id on `group` (usually "/tokenizer").
  void write_to(h5::Location& group) const;
  // DataError naming the file and the attribute for a missing, unknown or inconsistent
  // field.
  static Tokenizer read_from(const h5::Location& group);

  std::string describe() const;  // "bytes (V=257, EOS=256)", for mismatch messages
  bool operator==(const Tokenizer&) const = default;
};

}  // namespace alibi
