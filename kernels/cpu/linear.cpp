// Linear layer math on the CPU: every product through kernels/blas.h (fp32, or bf16
// operands with fp32 accumulation under --matmul-precision bf16).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/blas.h"
#include "kernels/ops.h"
#include "runtime/error.h"

namespace alibi::cpu {

namespace {

// C = op(A) op(B) + beta C. a16, b16 (bf16 precision only; may be null): A's or B's bf16
// copy, read instead of rounding a or b (a weight's working copy, an activation kept in bf16,
// a gradient rounded once for two products: the same bits gemm_bf16 would round them to).
template <class T>
void product(MatmulPrecision precision, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
             const uint16_t* a16, int64_t lda, const T* b, const uint16_t* b16, int64_t ldb, T beta, T* c,
             int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (precision == MatmulPrecision::bf16)
      return gemm_bf16(trans_a, trans_b, m, n, k, 1.0f, a16 != nullptr ? Bf16Operand(a16) : Bf16Operand(a), lda,
                       b16 != nullptr ? Bf16Operand(b16) : Bf16Operand(b), ldb, beta, c, ldc);
  }
  ALIBI_CHECK(a16 == nullptr && b16 == nullptr, "cpu linear: a bf16 operand under fp32 precision");
  gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

// out (N, OC) = inp (N, IC) W^T + b
template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IC,
                    int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  if (bias != nullptr) {
#pragma omp parallel for schedule(static) if (N > 1)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o) out[n * OC + o] = bias[o];
  }
  if (N == 1) {  // one token (generation): W x as a GEMV; GEMM would pack all of W for one row
    // The fp32 weight times the input as stored: a bf16 input row is widened (exactly).
    std::vector<T> widened;
    if (inp_bf16 != nullptr) {
      widened.resize(static_cast<size_t>(IC));
      for (int64_t i = 0; i < IC; ++i) widened[i] = static_cast<T>(bf16_value(inp_bf16[i]));
      inp = widened.data();
    }
    gemv(false, OC, IC, T(1), weight, IC, inp, bias != nullptr ? T(1) : T(0), out);
    return;
  }
  product(precision, false, true, N, OC, IC, inp, inp_bf16, IC, weight, weight_bf16, IC,
          bias != nullptr ? T(1) : T(0), out, OC);
}

// dinp = dout W; dW += dout^T inp; db += sum_n dout
template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t N, int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16,
                     const uint16_t* inp_bf16) {
  // Under bf16 dout is rounded once, here, for both products.
  // (A per-thread buffer that only grows, as gemm_bf16's own.)
  const uint16_t* d16 = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    if (precision == MatmulPrecision::bf16) {
      thread_local std::vector<uint16_t> dout16;
      if (dout16.size() < static_cast<size_t>(N * OC)) dout16.resize(static_cast<size_t>(N * OC));
      to_bf16(dout16.data(), dout, N * OC);
      d16 = dout16.data();
    }
  }
  if (dinp != nullptr)
    product(precision, false, false, N, IC, OC, dout, d16, OC, weight, weight_bf16, IC, T(0), dinp, IC);
  product<T>(precision, true, false, OC, IC, N, dout, d16, OC, inp, inp_bf16, IC, T(1), dweight, IC);
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

template void linear_forward<float>(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*, const uint16_t*);
template void linear_forward<double>(double*, const double*, const double*, const double*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*, const uint16_t*);
template void linear_backward<float>(float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*, const uint16_t*);
template void linear_backward<double>(double*, double*, double*, const double*, const double*, const double*, int64_t, int64_t, int64_t, MatmulPrecision, const uint16_t*, const uint16_t*);
template void bias_grad<float>(float*, const float*, int64_t, int64_t);
template void bias_grad<double>(double*, const double*, int64_t, int64_t);

}  // namespace alibi::cpu
