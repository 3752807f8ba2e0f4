// ALiBi slopes (Press, Smith & Lewis, "Train Short, Test Long"): the one slope function
// every kernel, layer and test uses, on host and device.
//
//   double m = alibi_slope(h, NH);       // head h of NH global heads
//   score(i, j) += -m * (i - j);          // query i, key j <= i; after the 1/sqrt(HS) scale
//
// Closed form of the paper's get_slopes: for n a power of two, slope_h = 2^(-8(h+1)/n).
// Otherwise, with p the largest power of two below n, the first p heads take the slopes
// of p heads and the remaining n - p take every other slope of 2p heads:
// h < p: 2^(-8(h+1)/p);  h = p + k: 2^(-4(2k+1)/p).   (n = 12: 2^-1..2^-8, 2^-0.5, 2^-1.5, ...)
// Under tensor parallelism a rank owning global heads [r*NH/tp, (r+1)*NH/tp) calls this
// with their *global* index and the *global* head count, never the local one.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define ALIBI_HOST_DEVICE __host__ __device__
#else
#define ALIBI_HOST_DEVICE
#endif

namespace alibi {

ALIBI_HOST_DEVICE inline double alibi_slope(int global_head, int n_heads) {
  int p = 1;  // largest power of two <= n_heads
  while (p * 2 <= n_heads) p *= 2;
  if (global_head < p) return exp2(-8.0 * (global_head + 1) / p);
  const int k = global_head - p;
  return exp2(-4.0 * (2 * k + 1) / p);
}

}  // namespace alibi
