// Sliding (and non-overlapping) evaluation windows.
#include "data/eval_windows.h"

#include <algorithm>
#include <string>
#include <utility>

#include "runtime/error.h"

namespace alibi {

SlidingWindows::SlidingWindows(const Corpus& corpus, Split split, int T, int stride, int dp_rank, int dp_size)
    : corpus_(&corpus), split_(split), T_(T), stride_(stride), dp_rank_(dp_rank), dp_size_(dp_size) {
  init(-1);
}

SlidingWindows::SlidingWindows(std::vector<int32_t> tokens, int T, int stride, int dp_rank, int dp_size)
    : tokens_(std::move(tokens)), T_(T), stride_(stride), dp_rank_(dp_rank), dp_size_(dp_size) {
  init(static_cast<int64_t>(tokens_.size()));
}

void SlidingWindows::init(int64_t n_tokens) {
  ALIBI_CHECK_AS(ConfigError, T_ >= 1, "evaluation length " << T_ << " must be at least 1");
  ALIBI_CHECK_AS(ConfigError, stride_ >= 1 && stride_ <= T_,
                 "--stride " << stride_ << " must be in [1, " << T_ << "] (at most the window length)");
  if (corpus_) {
    corpus_->require_tokens(split_, int64_t{T_} + 1, "an evaluation window of " + std::to_string(T_) + " tokens");
    n_tokens = corpus_->size(split_);
  } else {
    ALIBI_CHECK_AS(ConfigError, n_tokens >= int64_t{T_} + 1,
                   "length " << T_ << " needs " << T_ + 1 << " tokens but the text has " << n_tokens
                             << "; use shorter --lengths or a longer text");
  }
  n_windows_ = (n_tokens - T_ - 1) / stride_ + 1;
  window_.resize(size_t(T_) + 1);
}

int64_t SlidingWindows::count_for_rank() const {
  return n_windows_ > dp_rank_ ? (n_windows_ - dp_rank_ + dp_size_ - 1) / dp_size_ : 0;
}

void SlidingWindows::read(int64_t w, int32_t* inputs, int32_t* targets) {
  if (corpus_) {
    corpus_->read_tokens(split_, w * stride_, int64_t{T_} + 1, window_.data());
  } else {
    std::copy_n(tokens_.begin() + w * stride_, T_ + 1, window_.begin());
  }
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
