// Vocabulary-parallel softmax cross-entropy on the CPU: the local steps between the TP
// reductions (see kernels/ops.h). Sums of exponentials are accumulated in double, as in
// the single-rank reference (cross_entropy.cpp), which the tests compare against.
// The loops over the vocabulary vectorise: the exponentials are softmax_exp's (about 1 ulp;
// glibc's expf is a scalar call per element, and with two per logit, forward and backward,
// they were most of this step: 2 x 16.8 million at the main job's 2,048 tokens x 8,192).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/softmax_exp.h"
#include "kernels/elementwise.h"
#include "kernels/ops.h"

namespace alibi::cpu {

template <class T>
void vocab_ce_row_max(T* row_max, const T* logits, int64_t N, int64_t V, int64_t ld) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * ld;
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t v = 0; v < V; ++v) m = x[v] > m ? x[v] : m;
    row_max[n] = m;
  }
}

template <class T>
void vocab_ce_partials(double* sum_exp, double* target_logit, const T* logits, const T* row_max,
                       const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * ld;
    const T m = row_max[n];
    // The exponentials of a block, then their sum in double: GCC vectorises each loop alone,
    // but not the two fused (a float exp and a double sum in one loop).
    constexpr int64_t kBlock = 256;
    T e[kBlock];
    double s = 0;
    for (int64_t b0 = 0; b0 < V; b0 += kBlock) {
      const int64_t width = std::min(kBlock, V - b0);
#pragma omp simd
      for (int64_t v = 0; v < width; ++v) e[v] = softmax_exp(x[b0 + v] - m);
#pragma omp simd reduction(+ : s)
      for (int64_t v = 0; v < width; ++v) s += e[v];
    }
    sum_exp[n] = s;
    const int64_t local = int64_t{targets[n]} - v0;
    target_logit[n] = targets[n] >= 0 && local >= 0 && local < V ? static_cast<double>(x[local]) : 0.0;
  }
}

template <class T>
void vocab_ce_losses(T* losses, const double* sum_exp, const double* target_logit, const T* row_max,
                     const int32_t* targets, int64_t N) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    losses[n] = targets[n] < 0 ? T(0)
                               : static_cast<T>(cross_entropy_loss(sum_exp[n], target_logit[n], static_cast<double>(row_max[n])));
  }
}

template <class T>
void vocab_ce_backward(T* dlogits, const T* logits, const T* row_max, const double* sum_exp,
                       const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, T scale) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * ld;
    T* dx = dlogits + n * ld;
    for (int64_t v = V; v < ld; ++v) dx[v] = T(0);  // the padding's gradient: none
    if (targets[n] < 0) {
      for (int64_t v = 0; v < V; ++v) dx[v] = T(0);
      continue;
    }
    const T m = row_max[n];
    const T inv = static_cast<T>(1.0 / sum_exp[n]);
    const int64_t local = int64_t{targets[n]} - v0;
#pragma omp simd
    for (int64_t v = 0; v < V; ++v) dx[v] = cross_entropy_grad_from_exp(softmax_exp(x[v] - m), inv, scale, v == local);
  }
}

#define ALIBI_INSTANTIATE(T)                                                                           \
  template void vocab_ce_row_max<T>(T*, const T*, int64_t, int64_t, int64_t);                         \
  template void vocab_ce_partials<T>(double*, double*, const T*, const T*, const int32_t*, int64_t,   \
                                     int64_t, int64_t, int64_t);                                      \
  template void vocab_ce_losses<T>(T*, const double*, const double*, const T*, const int32_t*, int64_t); \
  template void vocab_ce_backward<T>(T*, const T*, const T*, const double*, const int32_t*, int64_t,   \
                                     int64_t, int64_t, int64_t, T);
ALIBI_INSTANTIATE(float)
ALIBI_INSTANTIATE(double)
#undef ALIBI_INSTANTIATE

}  // namespace alibi::cpu
