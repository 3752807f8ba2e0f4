// Sliding (and non-overlapping) evaluation windows.
#include "data/eval_windows.h"

#include <algorithm>
#include <string>

#include "runtime/error.h"

namespace alibi {

SlidingWindows::SlidingWindows(const Corpus& corpus, Split split, int T, int stride, int dp_rank, int dp_size)
    : corpus_(&corpus), split_(split), T_(T), stride_(stride), dp_rank_(dp_rank), dp_size_(dp_size) {
  ALIBI_CHECK_AS(ConfigError, T >= 1, "evaluation length " << T << " must be at least 1");
  ALIBI_CHECK_AS(ConfigError, stride >= 1 && stride <= T,
                 "--stride " << stride << " must be in [1, " << T << "] (at most the window length)");
  corpus.require_tokens(split, int64_t{T} + 1, "an evaluation window of " + std::to_string(T) + " tokens");
  n_windows_ = (corpus.size(split) - T - 1) / stride + 1;
  window_.resize(size_t(T) + 1);
}

int64_t SlidingWindows::count_for_rank() const {
  return n_windows_ > dp_rank_ ? (n_windows_ - dp_rank_ + dp_size_ - 1) / dp_size_ : 0;
}

void SlidingWindows::read(int64_t w, int32_t* inputs, int32_t* targets) {
  corpus_->read_tokens(split_, w * stride_, int64_t{T_} + 1, window_.data());
  std::copy(window_.begin(), window_.end() - 1, inputs);
  std::copy(window_.begin() + 1, window_.end(), targets);
  const int unscored = w == 0 ? 0 : T_ - stride_;
  std::fill(targets, targets + unscored, -1);
}

int SlidingWindows::next_batch(int B, int32_t* inputs, int32_t* targets) {
  int n = 0;
  for (; n < B; ++n) {
    const int64_t w = dp_rank_ + cursor_ * dp_size_;
    if (w >= n_windows_) break;
    read(w, inputs + int64_t{n} * T_, targets + int64_t{n} * T_);
    ++cursor_;
  }
  return n;
}

}  // namespace alibi
