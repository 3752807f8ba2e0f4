// Training samples and evaluation windows over one split of a Corpus (DESIGN.md
// "Sampling and evaluation windows").
//
// Training: sample k is tokens [k*T, k*T + T + 1) (inputs the first T, targets the last
// T); n_samples = (N_tokens - 1) / T. Epoch e visits the samples in a permutation keyed
// by (seed, e); the global order is epoch 0's permutation, then epoch 1's, ... DP rank r
// of dp takes global positions P + r, P + r + dp, ... so one batch of B per rank
// consumes B*dp positions. The position P is the one number a checkpoint stores:
//
//   Sampler train(corpus, Split::train, T, seed, dp_rank, dp);
//   train.next_batch(B, inputs, targets);     // inputs, targets: (B, T)
//   uint64_t p = train.position();            // save ...
//   train.set_position(p);                    // ... restore: the next batch is the same
//
// Evaluation: EvalWindows walks the non-overlapping windows k = 0, 1, ... of a split
// (the same windows as the samples, in order); every target is scored.
#pragma once

#include <cstdint>
#include <vector>

#include "data/corpus.h"

namespace alibi {

// Holds a pointer to the corpus: the corpus must outlive the sampler and stay in place.
class Sampler {
 public:
  // DataError if the split has fewer than T + 1 tokens.
  Sampler(const Corpus& corpus, Split split, int T, uint64_t seed, int dp_rank = 0, int dp_size = 1);

  int64_t samples_per_epoch() const { return n_samples_; }
  int T() const { return T_; }

  // This rank's next B windows: inputs and targets are (B, T) row-major. Advances the
  // global position by B * dp_size.
  void next_batch(int B, int32_t* inputs, int32_t* targets);

  uint64_t position() const { return position_; }  // global samples consumed, all ranks
  void set_position(uint64_t position) { position_ = position; }
  uint64_t epoch() const { return position_ / static_cast<uint64_t>(n_samples_); }

  // The sample index (window k) at global position p: permutation(epoch)[p % n].
  int64_t sample_at(uint64_t p) const;

 private:
  const Corpus* corpus_;
  Split split_;
  int T_;
  uint64_t seed_;
  int dp_rank_, dp_size_;
  int64_t n_samples_;
  uint64_t position_ = 0;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> order_;  // the cached epoch's permutation
  std::vector<int32_t> window_;         // T + 1 tokens
};

// Epoch e's order of n samples: Fisher-Yates driven by rng_below(rng_key(seed,
// "sampler.epoch.<e>"), i, i + 1), so it depends only on (n, seed, e).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, uint64_t epoch);

class EvalWindows {
 public:
  // DataError if the split has fewer than T + 1 tokens. DP rank r takes windows
  // r, r + dp, ... so the ranks together cover each window once.
  EvalWindows(const Corpus& corpus, Split split, int T, int dp_rank = 0, int dp_size = 1);

  int64_t count() const { return n_windows_; }  // (N_tokens - 1) / T windows in the split
  int64_t count_for_rank() const;               // how many of them this rank reads

  // Window k: inputs tokens [k*T, k*T + T), targets [k*T + 1, k*T + T + 1).
  void read(int64_t k, int32_t* inputs, int32_t* targets);
  // Up to B of this rank's next windows into (B, T) arrays; returns how many (0: done).
  int next_batch(int B, int32_t* inputs, int32_t* targets);
  void rewind() { cursor_ = 0; }

 private:
  const Corpus* corpus_;
  Split split_;
  int T_;
  int dp_rank_, dp_size_;
  int64_t n_windows_;
  int64_t cursor_ = 0;  // this rank's windows read so far
  std::vector<int32_t> window_;
};

}  // namespace alibi
