// Training a byte-level BPE vocabulary (`alibi preprocess --tokenizer bpe --vocab N`):
// count the GPT-2 pieces of the training text once (WordCounts; one table per thread,
// merged), then learn merges over that table of distinct words, never over the text again.
//
//   WordCounts words;
//   for (const std::string& doc : docs) words.add_text(doc);
//   Tokenizer tok = train_bpe(words, 8192);   // 256 bytes + 7935 merges + EOS
//
// Each step merges the most frequent adjacent pair of tokens (summed over the words,
// weighted by their counts); ties go to the smallest (left id, right id). Pair counts are
// kept up to date incrementally: a merge touches only the words that contain the pair
// (an index pair -> words) and a max-heap with lazy deletion yields the next best pair,
// so training costs about (words touched by merges) x (their length), not a pass over
// the table per merge.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "data/tokenizer.h"

namespace alibi {

class WordCounts {
 public:
  // Counts every piece of `text` (data/pretokenize.h).
  void add_text(std::string_view text);
  void add(std::string_view piece, int64_t count = 1);
  // Adds the counts of `other` (per-thread tables into one).
  void merge(const WordCounts& other);

  size_t distinct() const { return counts_.size(); }
  int64_t total() const { return total_; }  // pieces counted

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Table = std::unordered_map<std::string, int64_t, Hash, std::equal_to<>>;
  const Table& table() const { return counts_; }

 private:
  Table counts_;
  int64_t total_ = 0;
};

// A tokenizer of kind bpe with at most `vocab_size` ids: bytes 0..255, then the token each
// merge makes, in the order learned (id 256 + i for merge i, unless two merge paths spell
// the same bytes: they share the first one's token), then EOS (id V - 1). It is smaller
// when the words run out of pairs before that (a tiny corpus).
// `progress(tokens made, tokens wanted)` is called now and then.
// ConfigError when vocab_size < 257 or > 2^30.
Tokenizer train_bpe(const WordCounts& words, int64_t vocab_size,
                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace alibi
