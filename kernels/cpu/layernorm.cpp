// LayerNorm over the last dimension on the CPU (eps 1e-5, biased variance, as GPT-2).
// Row statistics are accumulated in double: the CPU path is the reference the CUDA
// kernels are compared with, and C can reach thousands. The row sums are `omp simd`
// reductions: a double sum in order is a chain of dependent adds, which made LayerNorm 2x
// slower than it is vectorised (6.7% of the tiny model's step before).
#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/ops.h"

namespace alibi::cpu {

constexpr double kLayerNormEps = 1e-5;
// Channels per block of the parameter-gradient loop (see layernorm_backward).
constexpr int64_t kLayerNormChannelBlock = 64;

// ---- forward -------------------------------------------------------------------------------
// out = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps); mean, rstd (N) kept for backward.
template <class T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias,
                       int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N > 1)  // one row (a generation step): no team to wake
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += x[c];
    const double mu = sum / static_cast<double>(C);
    double sq = 0;  // two passes: no cancellation when |mean| >> std
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; ++c) {
      const double d = x[c] - mu;
      sq += d * d;
    }
    const double rs = 1.0 / std::sqrt(sq / static_cast<double>(C) + kLayerNormEps);
    const T m = static_cast<T>(mu), r = static_cast<T>(rs);
    T* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = layernorm_element(x[c], m, r, weight[c], bias[c]);
    mean[n] = m;
    rstd[n] = r;
  }
}

// ---- backward ------------------------------------------------------------------------------
// With xhat = (x - mean) * rstd and g = w * dout:
//   dinp += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))
//   dweight += sum_n dout * xhat;  dbias += sum_n dout
// dinp is parallel over rows. The parameter gradients are parallel over blocks of
// channels, each walking all rows in order: deterministic whatever the thread count.
template <class T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                        const T* mean, const T* rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    const T m = mean[n], r = rstd[n];
    double g_sum = 0, gx_sum = 0;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int64_t c = 0; c < C; ++c) {
      const T g = weight[c] * dy[c];
      g_sum += g;
      gx_sum += g * ((x[c] - m) * r);
    }
    const T g_mean = static_cast<T>(g_sum / static_cast<double>(C));
    const T gx_mean = static_cast<T>(gx_sum / static_cast<double>(C));
    T* dx = dinp + n * C;
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = (x[c] - m) * r;
      dx[c] += layernorm_dx(weight[c] * dy[c], xhat, r, g_mean, gx_mean);
    }
  }

  const int64_t blocks = (C + kLayerNormChannelBlock - 1) / kLayerNormChannelBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kLayerNormChannelBlock;
    const int64_t width = std::min(C - c0, kLayerNormChannelBlock);
    double dw[kLayerNormChannelBlock] = {}, db[kLayerNormChannelBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C + c0;
      const T* dy = dout + n * C + c0;
      const T m = mean[n], r = rstd[n];
      for (int64_t c = 0; c < width; ++c) {
        dw[c] += dy[c] * ((x[c] - m) * r);
        db[c] += dy[c];
      }
    }
    for (int64_t c = 0; c < width; ++c) {
      dweight[c0 + c] += static_cast<T>(dw[c]);
      dbias[c0 + c] += static_cast<T>(db[c]);
    }
  }
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*, const double*, int64_t, int64_t);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int64_t, int64_t);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int64_t, int64_t);

}  // namespace alibi::cpu
