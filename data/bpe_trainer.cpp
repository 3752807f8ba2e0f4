// BPE training over a table of word counts, with incremental pair counts.
#include "data/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <vector>

#include "data/pretokenize.h"
#include "runtime/error.h"

namespace alibi {

// ---- word counts -------------------------------------------------------------------------

void WordCounts::add(std::string_view piece, int64_t count) {
  const auto it = counts_.find(piece);
  if (it != counts_.end()) {
    it->second += count;
  } else {
    counts_.emplace(std::string(piece), count);
  }
  total_ += count;
}

void WordCounts::add_text(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const size_t end = gpt2_piece_end(text, at);
    add(text.substr(at, end - at));
    at = end;
  }
}

void WordCounts::merge(const WordCounts& other) {
  for (const auto& [piece, count] : other.counts_) add(piece, count);
}

// ---- training ------------------------------------------------------------------------------

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
}
int32_t left_of(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t right_of(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> sym;  // current tokens
  int64_t count;
};

// A heap entry: the pair's count when pushed (an upper bound of its count now).
struct Entry {
  int64_t count;
  uint64_t key;
};
// Lower priority: fewer occurrences, then the larger (left, right).
struct LowerPriority {
  bool operator()(const Entry& a, const Entry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.key > b.key;  // the key orders by left, then right
  }
};

}  // namespace

Tokenizer train_bpe(const WordCounts& words, int64_t vocab_size, const std::function<void(int64_t, int64_t)>& progress) {
  ALIBI_CHECK_AS(ConfigError, vocab_size >= 257 && vocab_size <= (int64_t{1} << 30),
                 "--vocab " << vocab_size << " must be at least 257 (256 bytes + EOS) and at most 2^30");
  const int64_t want = vocab_size - 1;  // tokens before EOS

  // The words with at least one pair, as byte tokens (id = byte value).
  std::vector<Word> ws;
  for (const auto& [piece, count] : words.table()) {
    if (piece.size() < 2) continue;
    Word w{std::vector<int32_t>(piece.size()), count};
    for (size_t i = 0; i < piece.size(); ++i) w.sym[i] = static_cast<unsigned char>(piece[i]);
    ws.push_back(std::move(w));
  }
  // Sorting makes the index order independent of the hash table's (results do not
  // depend on it, but identical inputs then take identical paths).
  std::sort(ws.begin(), ws.end(), [](const Word& a, const Word& b) { return a.sym < b.sym; });

  std::vector<std::string> vocab(256);
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) vocab[b] = std::string(1, static_cast<char>(b)), id_of[vocab[b]] = b;
  std::vector<Merge> merges;

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // pair -> words that had it
  for (size_t w = 0; w < ws.size(); ++w) {
    const std::vector<int32_t>& s = ws[w].sym;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t key = pair_key(s[i], s[i + 1]);
      pair_count[key] += ws[w].count;
      std::vector<int32_t>& list = where[key];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) list.push_back(static_cast<int32_t>(w));
    }
  }
  std::priority_queue<Entry, std::vector<Entry>, LowerPriority> heap;
  for (const auto& [key, count] : pair_count) heap.push(Entry{count, key});

  std::vector<int32_t> seen(ws.size(), -1);  // the last merge that visited each word
  std::vector<uint64_t> gained;                   // pairs formed by this merge
  std::vector<int32_t> merged_word;
  std::vector<char> touched, fresh;               // old positions merged, new tokens made
  while (static_cast<int64_t>(vocab.size()) < want && !heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    const auto found = pair_count.find(top.key);
    const int64_t now = found == pair_count.end() ? 0 : found->second;
    if (now != top.count) {
      // Stale. A count that fell goes back in at its true value; one that rose was
      // pushed again when it rose.
      if (now > 0 && now < top.count) heap.push(Entry{now, top.key});
      continue;
    }
    const int32_t left = left_of(top.key), right = right_of(top.key);
    const int32_t step = static_cast<int32_t>(merges.size());
    std::string bytes = vocab[left] + vocab[right];
    // Two merge paths can spell the same bytes ("a"+"bc", "ab"+"c"): they share one token.
    int32_t id;
    if (const auto it = id_of.find(bytes); it != id_of.end()) {
      id = it->second;
    } else {
      id = static_cast<int32_t>(vocab.size());
      id_of.emplace(bytes, id);
      vocab.push_back(std::move(bytes));
    }
    merges.push_back(Merge{left, right});

    std::vector<int32_t> list = std::move(where[top.key]);
    where.erase(top.key);
    pair_count.erase(top.key);
    gained.clear();
    auto change = [&](uint64_t key, int64_t d) {
      if (key == top.key) return;  // gone for good: every occurrence merges now
      const auto it = pair_count.find(key);
      if (it == pair_count.end()) {
        pair_count.emplace(key, d);  // d > 0: pairs only appear by gaining
      } else if ((it->second += d) <= 0) {
        pair_count.erase(it);
      }
    };
    for (const int32_t w : list) {
      if (seen[w] == step) continue;
      seen[w] = step;
      std::vector<int32_t>& s = ws[w].sym;
      const int64_t count = ws[w].count;
      // Merge left to right; only pairs that touch a merged position change.
      merged_word.clear();
      fresh.clear();
      touched.assign(s.size(), 0);
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          touched[i] = touched[i + 1] = 1;
          merged_word.push_back(id);
          fresh.push_back(1);
          i += 2;
        } else {
          merged_word.push_back(s[i]);
          fresh.push_back(0);
          i += 1;
        }
      }
      if (merged_word.size() == s.size()) continue;  // no longer holds the pair
      for (size_t i = 0; i + 1 < s.size(); ++i)
        if (touched[i] || touched[i + 1]) change(pair_key(s[i], s[i + 1]), -count);
      for (size_t i = 0; i + 1 < merged_word.size(); ++i) {
        if (!fresh[i] && !fresh[i + 1]) continue;
        const uint64_t key = pair_key(merged_word[i], merged_word[i + 1]);
        change(key, count);
        gained.push_back(key);
        std::vector<int32_t>& l = where[key];
        if (l.empty() || l.back() != w) l.push_back(w);
      }
      s.swap(merged_word);
    }
    // Pairs that gained go on the heap at their count now (lost counts are found lazily).
    std::sort(gained.begin(), gained.end());
    gained.erase(std::unique(gained.begin(), gained.end()), gained.end());
    for (const uint64_t key : gained)
      if (const auto it = pair_count.find(key); it != pair_count.end()) heap.push(Entry{it->second, key});
    if (progress && merges.size() % 256 == 0) progress(static_cast<int64_t>(vocab.size()), want);
  }
  if (progress) progress(static_cast<int64_t>(vocab.size()), want);

  const int64_t eos = static_cast<int64_t>(vocab.size());
  vocab.emplace_back(kEosName);
  return Tokenizer::from_bpe(TokenizerKind::bpe, std::move(vocab), std::move(merges), eos, "train_bpe");
}

}  // namespace alibi
