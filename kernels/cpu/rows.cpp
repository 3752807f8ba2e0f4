// Row-broadcast operations on the CPU: bias rows, absolute-position rows and their
// gradient, and the plain double sum of the losses.
#include "kernels/ops.h"

namespace alibi::cpu {

template <class T>
void add_bias(T* out, const T* bias, int64_t N, int64_t OC) {
#pragma omp parallel for schedule(static) if (N > 1)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < OC; ++j) out[n * OC + j] += bias[j];
}

template <class T>
void add_position_rows(T* x, const T* table, int64_t B, int64_t T_, int64_t C, T scale) {
#pragma omp parallel for schedule(static) if (B * T_ > 1)
  for (int64_t n = 0; n < B * T_; ++n)
    for (int64_t c = 0; c < C; ++c) x[n * C + c] = scale * x[n * C + c] + table[(n % T_) * C + c];
}

template <class T>
void position_rows_backward(T* dtable, const T* dx, int64_t B, int64_t T_, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T_; ++t)  // rows of different t are disjoint: no races, fixed order over b
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) dtable[t * C + c] += dx[(b * T_ + t) * C + c];
}

template <class T>
double sum(const T* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

#define ALIBI_INSTANTIATE(T)                                                          \
  template void add_bias<T>(T*, const T*, int64_t, int64_t);                          \
  template void add_position_rows<T>(T*, const T*, int64_t, int64_t, int64_t, T);     \
  template void position_rows_backward<T>(T*, const T*, int64_t, int64_t, int64_t);   \
  template double sum<T>(const T*, int64_t);
ALIBI_INSTANTIATE(float)
ALIBI_INSTANTIATE(double)
#undef ALIBI_INSTANTIATE

}  // namespace alibi::cpu
