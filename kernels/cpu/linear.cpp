// Linear layer math on the CPU: every product through kernels/blas.h (fp32, or bf16
// operands with fp32 accumulation under --matmul-precision bf16).
#include <algorithm>
#include <type_traits>

#include "kernels/blas.h"
#include "kernels/ops.h"

namespace alibi::cpu {

namespace {

// C = op(A) op(B) + beta C. b16 (bf16 precision only; may be null): B's bf16 copy, read
// instead of rounding b (the weight's working copy: the same bits gemm_bf16 would round b to).
template <class T>
void product(MatmulPrecision precision, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
             int64_t lda, const T* b, const uint16_t* b16, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (precision == MatmulPrecision::bf16 && b16 != nullptr)
      return gemm_bf16(trans_a, trans_b, m, n, k, 1.0f, a, lda, b16, ldb, beta, c, ldc);
    if (precision == MatmulPrecision::bf16)
      return gemm_bf16(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  }
  gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

// out (N, OC) = inp (N, IC) W^T + b
template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IC,
                    int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16) {
  if (bias != nullptr) {
#pragma omp parallel for schedule(static) if (N > 1)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o) out[n * OC + o] = bias[o];
  }
  if (N == 1) {  // one token (generation): W x as a GEMV; GEMM would pack all of W for one row
    gemv(false, OC, IC, T(1), weight, IC, inp, bias != nullptr ? T(1) : T(0), out);
    return;
  }
  product(precision, false, true, N, OC, IC, inp, IC, weight, weight_bf16, IC, bias != nullptr ? T(1) : T(0), out, OC);
}

// dinp = dout W; dW += dout^T inp; db += sum_n dout
template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t N, int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16) {
  if (dinp != nullptr) product(precision, false, false, N, IC, OC, dout, OC, weight, weight_bf16, IC, T(0), dinp, IC);
  product<T>(precision, true, false, OC, IC, N, dout, OC, inp, nullptr, IC, T(1), dweight, IC);
  if (dbias != nullptr) bias_grad(dbias, dout, N, OC);
}

// Column sums, walked row by row over blocks of columns: contiguous loads, and each column
// summed in the same order whatever the thread count (deterministic).
template <class T>
void bias_grad(T* dbias, const T* dout, int64_t N, int64_t OC) {
  constexpr int64_t kCols = 64;
  const int64_t blocks = (OC + kCols - 1) / kCols;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t o0 = blk * kCols, width = std::min(kCols, OC - o0);
    T acc[kCols] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T* row = dout + n * OC + o0;
#pragma omp simd
      for (int64_t o = 0; o < width; ++o) acc[o] += row[o];
    }
    for (int64_t o = 0; o < width; ++o) dbias[o0 + o] += acc[o];
  }
}

template void linear_forward<float>(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*);
template void linear_forward<double>(double*, const double*, const double*, const double*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*);
template void linear_backward<float>(float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*);
template void linear_backward<double>(double*, double*, double*, const double*, const double*, const double*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*);
template void bias_grad<float>(float*, const float*, int64_t, int64_t);
template void bias_grad<double>(double*, const double*, int64_t, int64_t);

}  // namespace alibi::cpu
