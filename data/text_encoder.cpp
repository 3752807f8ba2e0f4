// Byte-level BPE encoding of text: pre-split, then merge each piece by rank, with a cache.
#include "data/text_encoder.h"

#include <algorithm>

#include "data/pretokenize.h"

namespace alibi {

TextEncoder::TextEncoder(const Tokenizer& tokenizer) : tables_(tokenizer.tables()) {}

void TextEncoder::encode(std::string_view text, std::vector<int32_t>& out) {
  if (!tables_) {  // bytes: token = byte value
    out.insert(out.end(), reinterpret_cast<const unsigned char*>(text.data()),
               reinterpret_cast<const unsigned char*>(text.data()) + text.size());
    return;
  }
  for (size_t at = 0; at < text.size();) {
    const size_t end = gpt2_piece_end(text, at);
    const std::string_view piece = text.substr(at, end - at);
    at = end;
    if (piece.size() == 1) {
      out.push_back(tables_->byte_id[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    if (piece.size() > kCachedPieceBytes) {
      encode_piece(piece, out);
      continue;
    }
    const auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), ids_.begin() + it->second.offset, ids_.begin() + it->second.offset + it->second.length);
      continue;
    }
    if (cache_.size() >= kCacheLimit) cache_.clear(), ids_.clear();
    const size_t first = out.size();
    encode_piece(piece, out);
    const Span span{static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(out.size() - first)};
    ids_.insert(ids_.end(), out.begin() + static_cast<ptrdiff_t>(first), out.end());
    cache_.emplace(std::string(piece), span);
  }
}

// Merges by a min-heap of candidate pairs keyed (rank, position): each step merges the
// lowest-rank adjacent pair, the leftmost one among equals, then offers the two pairs the
// new token forms with its neighbours. O(n log n) in the piece's length, so a megabyte
// of one repeated byte costs no more than a megabyte of words. This equals GPT-2's
// "merge every occurrence of the best pair, left to right, then look again" whenever a
// merge's result takes part only in later merges, which holds for BPE trained in order
// (ours and GPT-2's vocab.bpe).
void TextEncoder::encode_piece(std::string_view piece, std::vector<int32_t>& out) {
  const int32_t n = static_cast<int32_t>(piece.size());
  if (!tables_) {
    for (unsigned char c : piece) out.push_back(c);
    return;
  }
  sym_.resize(static_cast<size_t>(n));
  next_.resize(static_cast<size_t>(n));
  prev_.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    sym_[i] = tables_->byte_id[static_cast<unsigned char>(piece[static_cast<size_t>(i)])];
    next_[i] = i + 1 < n ? i + 1 : -1;
    prev_[i] = i - 1;
  }
  // std::push_heap builds a max-heap: "later" = higher rank, then further right.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  heap_.clear();
  auto offer = [&](int32_t i) {
    const int32_t j = next_[i];
    int32_t rank = 0, merged = 0;
    if (j < 0 || !tables_->find(sym_[i], sym_[j], rank, merged)) return;
    heap_.push_back(Candidate{rank, i, sym_[i], sym_[j]});
    std::push_heap(heap_.begin(), heap_.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) offer(i);

  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const Candidate c = heap_.back();
    heap_.pop_back();
    const int32_t i = c.pos, j = next_[i];
    // Stale when either side has merged since (then its symbol or neighbour changed).
    if (sym_[i] != c.left || j < 0 || sym_[j] != c.right) continue;
    int32_t rank = 0, merged = 0;
    tables_->find(c.left, c.right, rank, merged);  // found when offered; the tables do not change
    sym_[i] = merged;
    sym_[j] = -1;  // removed
    next_[i] = next_[j];
    if (next_[j] >= 0) prev_[next_[j]] = i;
    if (prev_[i] >= 0) offer(prev_[i]);
    offer(i);
  }
  for (int32_t i = 0; i >= 0; i = next_[i]) out.push_back(sym_[i]);
}

}  // namespace alibi
