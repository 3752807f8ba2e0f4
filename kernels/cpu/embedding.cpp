// Token embedding lookup and its scatter-add backward on the CPU.
#include <algorithm>

#include "kernels/ops.h"

namespace alibi::cpu {

// Channels per block of the backward's parallel loop: 64 floats (four cache lines) per row
// visit amortise the walk over all N rows, and C=128 still splits over two threads.
constexpr int64_t kEmbeddingChannelBlock = 64;

// ---- forward: out (N, C) = wte[tokens] -------------------------------------------------
template <class T>
void embedding_forward(T* out, const int32_t* tokens, const T* wte, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N > 1)
  for (int64_t n = 0; n < N; ++n) {
    if (tokens[n] < 0) {  // not in this vocabulary shard
      std::fill(out + n * C, out + (n + 1) * C, T(0));
      continue;
    }
    const T* row = wte + static_cast<int64_t>(tokens[n]) * C;
    std::copy(row, row + C, out + n * C);
  }
}

// ---- backward: dwte[tokens[n]] += dout[n] ----------------------------------------------
// Tokens repeat, so rows of dwte receive several updates. Each thread owns a block of
// channels and walks every row in order: no races, no atomics, and each element sums its
// updates in row order whatever the thread count (bitwise-reproducible resume).
template <class T>
void embedding_backward(T* dwte, const T* dout, const int32_t* tokens, int64_t N, int64_t C) {
  const int64_t blocks = (C + kEmbeddingChannelBlock - 1) / kEmbeddingChannelBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kEmbeddingChannelBlock;
    const int64_t c1 = std::min(C, c0 + kEmbeddingChannelBlock);
    for (int64_t n = 0; n < N; ++n) {
      if (tokens[n] < 0) continue;  // not in this vocabulary shard
      T* drow = dwte + static_cast<int64_t>(tokens[n]) * C;
      const T* grow = dout + n * C;
      for (int64_t c = c0; c < c1; ++c) drow[c] += grow[c];
    }
  }
}

template void embedding_forward<float>(float*, const int32_t*, const float*, int64_t, int64_t);
template void embedding_forward<double>(double*, const int32_t*, const double*, int64_t, int64_t);
template void embedding_backward<float>(float*, const float*, const int32_t*, int64_t, int64_t);
template void embedding_backward<double>(double*, const double*, const int32_t*, int64_t, int64_t);

}  // namespace alibi::cpu
