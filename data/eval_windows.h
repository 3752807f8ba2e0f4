// Evaluation windows over a split (DESIGN.md "Sampling and evaluation windows"): windows
// of T tokens advancing by a stride S; the first window scores all T targets, each later
// one only its last S (the tokens it adds), so every scored token is scored once, with
// up to T - S tokens of context. S = T is the non-overlapping evaluation (each window
// scores everything); S = 1 scores every token with a full window of context.
//
//   SlidingWindows w(corpus, Split::valid, 1024, 512, dp_rank, dp);
//   SlidingWindows w(tokenizer.encode(text), 1024, 512);   // or over tokens in memory
//   while (int n = w.next_batch(B, inputs, targets)) ...   // unscored targets are -1
#pragma once

#include <cstdint>
#include <vector>

#include "data/corpus.h"

namespace alibi {

class SlidingWindows {
 public:
  // DataError when the split has fewer than T + 1 tokens; ConfigError for a stride
  // outside [1, T]. DP rank r takes windows r, r + dp, ...
  SlidingWindows(const Corpus& corpus, Split split, int T, int stride, int dp_rank = 0, int dp_size = 1);
  // The same over a token stream in memory (`alibi eval --text`): ConfigError naming the
  // length when there are fewer than T + 1 tokens.
  SlidingWindows(std::vector<int32_t> tokens, int T, int stride, int dp_rank = 0, int dp_size = 1);

  int64_t count() const { return n_windows_; }  // windows in the split
  int64_t count_for_rank() const;

  // Window w: inputs tokens [w*S, w*S + T), targets shifted by one, -1 where not scored.
  void read(int64_t w, int32_t* inputs, int32_t* targets);
  // Up to B of this rank's next windows into (B, T) arrays; returns how many (0: done).
  int next_batch(int B, int32_t* inputs, int32_t* targets);

 private:
  void init(int64_t n_tokens);

  const Corpus* corpus_ = nullptr;  // null: tokens_ holds the stream
  std::vector<int32_t> tokens_;
  Split split_ = Split::valid;
  int T_, stride_;
  int dp_rank_, dp_size_;
  int64_t n_windows_ = 0;
  int64_t cursor_ = 0;
  std::vector<int32_t> window_;
};

}  // namespace alibi
