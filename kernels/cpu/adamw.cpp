// The optimizer's element loops on the CPU: AdamW, the sum of squares behind the global
// gradient norm, and in-place scaling (clipping). The AdamW formula is elementwise.h's.
#include <algorithm>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/ops.h"

namespace alibi::cpu {

// Elements per partial sum in sum_squares. The partials are fixed by n alone and added in
// index order, so the result is the same bits for any thread count (resume under a
// different OMP_NUM_THREADS reproduces the same clipping).
constexpr int64_t kSumChunk = 1 << 14;
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kElementParallelMin = 1 << 14;

template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step) {
  const AdamWParams<T> hp = adamw_params<T>(lr, beta1, beta2, eps, weight_decay, step);
#pragma omp parallel for schedule(static) if (n >= kElementParallelMin)
  for (int64_t i = 0; i < n; ++i) adamw_element(param[i], grad[i], m[i], v[i], hp);
}

// sum x^2 in double: chunks of kSumChunk in parallel, each with eight interleaved
// accumulators (independent add chains the compiler can vectorise), then the chunk sums
// in order.
template <class T>
double sum_squares(const T* x, int64_t n) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t i0 = k * kSumChunk, i1 = std::min(n, i0 + kSumChunk);
    double acc[8] = {};
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8)
      for (int j = 0; j < 8; ++j) {
        const double xi = x[i + j];
        acc[j] += xi * xi;
      }
    for (; i < i1; ++i) {
      const double xi = x[i];
      acc[0] += xi * xi;
    }
    partial[k] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

template <class T>
void scale_inplace(T* x, int64_t n, T s) {
#pragma omp parallel for schedule(static) if (n >= kElementParallelMin)
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

template void adamw_update<float>(float*, const float*, float*, float*, int64_t, float, float, float, float, float, int64_t);
template void adamw_update<double>(double*, const double*, double*, double*, int64_t, float, float, float, float, float, int64_t);
template double sum_squares<float>(const float*, int64_t);
template double sum_squares<double>(const double*, int64_t);
template void scale_inplace<float>(float*, int64_t, float);
template void scale_inplace<double>(double*, int64_t, double);

}  // namespace alibi::cpu
