// Seeded epoch permutations over fixed windows, and the evaluation windows.
#include "data/sampler.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "runtime/error.h"
#include "runtime/rng.h"

namespace alibi {

namespace {

// Window k: T + 1 tokens from k*T into `window`, split into inputs and targets.
void read_window(const Corpus& corpus, Split split, int T, int64_t k, std::vector<int32_t>& window,
                 int32_t* inputs, int32_t* targets) {
  corpus.read_tokens(split, k * T, T + 1, window.data());
  std::copy(window.begin(), window.begin() + T, inputs);
  std::copy(window.begin() + 1, window.end(), targets);
}

int64_t windows_in(const Corpus& corpus, Split split, int T) {
  ALIBI_CHECK_AS(ConfigError, T >= 1, "the window size T must be at least 1 (got " << T << ")");
  corpus.require_tokens(split, int64_t{T} + 1, "a window of T=" + std::to_string(T) + " (T+1 tokens)");
  return (corpus.size(split) - 1) / T;
}

void check_dp(int dp_rank, int dp_size) {
  ALIBI_CHECK(dp_size >= 1 && dp_rank >= 0 && dp_rank < dp_size,
              "data-parallel rank " << dp_rank << " of " << dp_size);
}

}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const uint64_t key = rng_key(seed, "sampler.epoch." + std::to_string(epoch));
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[rng_below(key, static_cast<uint64_t>(i), static_cast<uint64_t>(i + 1))]);
  return order;
}

// ---- Sampler --------------------------------------------------------------------------------

Sampler::Sampler(const Corpus& corpus, Split split, int T, uint64_t seed, int dp_rank, int dp_size)
    : corpus_(&corpus),
      split_(split),
      T_(T),
      seed_(seed),
      dp_rank_(dp_rank),
      dp_size_(dp_size),
      n_samples_(windows_in(corpus, split, T)),
      window_(static_cast<size_t>(T) + 1) {
  check_dp(dp_rank, dp_size);
}

int64_t Sampler::sample_at(uint64_t p) const {
  const uint64_t n = static_cast<uint64_t>(n_samples_);
  const int64_t epoch = static_cast<int64_t>(p / n);
  if (epoch != cached_epoch_) {
    order_ = epoch_permutation(n_samples_, seed_, static_cast<uint64_t>(epoch));
    cached_epoch_ = epoch;
  }
  return order_[p % n];
}

void Sampler::next_batch(int B, int32_t* inputs, int32_t* targets) {
  const uint64_t dp = static_cast<uint64_t>(dp_size_);
  for (int b = 0; b < B; ++b) {
    const uint64_t p = position_ + static_cast<uint64_t>(b) * dp + static_cast<uint64_t>(dp_rank_);
    read_window(*corpus_, split_, T_, sample_at(p), window_, inputs + int64_t{b} * T_, targets + int64_t{b} * T_);
  }
  position_ += static_cast<uint64_t>(B) * dp;
}

// ---- EvalWindows ------------------------------------------------------------------------------

EvalWindows::EvalWindows(const Corpus& corpus, Split split, int T, int dp_rank, int dp_size)
    : corpus_(&corpus),
      split_(split),
      T_(T),
      dp_rank_(dp_rank),
      dp_size_(dp_size),
      n_windows_(windows_in(corpus, split, T)),
      window_(static_cast<size_t>(T) + 1) {
  check_dp(dp_rank, dp_size);
}

int64_t EvalWindows::count_for_rank() const {
  return n_windows_ > dp_rank_ ? (n_windows_ - dp_rank_ + dp_size_ - 1) / dp_size_ : 0;
}

void EvalWindows::read(int64_t k, int32_t* inputs, int32_t* targets) {
  ALIBI_CHECK(k >= 0 && k < n_windows_, "evaluation window " << k << " of " << n_windows_);
  read_window(*corpus_, split_, T_, k, window_, inputs, targets);
}

int EvalWindows::next_batch(int B, int32_t* inputs, int32_t* targets) {
  int filled = 0;
  while (filled < B && cursor_ < count_for_rank()) {
    read(dp_rank_ + cursor_ * dp_size_, inputs + int64_t{filled} * T_, targets + int64_t{filled} * T_);
    ++cursor_;
    ++filled;
  }
  return filled;
}

}  // namespace alibi
