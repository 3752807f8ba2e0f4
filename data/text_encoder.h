// TextEncoder: fast encoding of text with a Tokenizer, one encoder per thread. It splits
// text into GPT-2 pieces (data/pretokenize.h), and merges each piece's bytes by rank
// (lowest first; equal ranks left to right, which is GPT-2's order), remembering the ids
// of every piece it has encoded: real text repeats its words, so most pieces are one
// hash lookup.
//
//   TextEncoder enc(tokenizer);           // shares the tokenizer's tables; not thread-safe
//   std::vector<int32_t> ids;
//   enc.encode(document, ids);            // appends; no EOS
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/bpe_tables.h"
#include "data/tokenizer.h"

namespace alibi {

class TextEncoder {
 public:
  explicit TextEncoder(const Tokenizer& tokenizer);

  // Appends the ids of `text` to `out` (no EOS).
  void encode(std::string_view text, std::vector<int32_t>& out);
  // The ids of one pre-split piece, merged without the cache (tests compare the two).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out);

  size_t cached_pieces() const { return cache_.size(); }

  // Pieces longer than this are not cached (they rarely repeat), and the cache is
  // emptied when it reaches kCacheLimit pieces, so memory stays bounded on any input.
  static constexpr size_t kCachedPieceBytes = 64;
  static constexpr size_t kCacheLimit = size_t{1} << 20;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Span {
    uint32_t offset, length;  // ids_[offset, offset + length)
  };

  std::shared_ptr<const BpeTables> tables_;  // null: the bytes tokenizer
  std::unordered_map<std::string, Span, Hash, std::equal_to<>> cache_;
  std::vector<int32_t> ids_;  // the cached pieces' ids, back to back

  // Scratch of encode_piece: the symbols as a linked list and a heap of candidate merges.
  struct Candidate {
    int32_t rank, pos, left, right;
  };
  std::vector<int32_t> sym_, next_, prev_;
  std::vector<Candidate> heap_;
};

}  // namespace alibi
