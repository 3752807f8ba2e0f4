// Row-major GEMM (and GEMV) for float and double: C = alpha * op(A) op(B) + beta * C.
// Every matmul in the CPU path goes through here. Double products and GEMVs are OpenBLAS's
// (CBLAS) in every build; called inside an OpenMP parallel region, the OpenMP build of
// OpenBLAS runs single-threaded (no oversubscription).
#pragma once

#include <cblas.h>

#include <cstdint>

namespace alibi::cpu {

// fp32: the library chosen at configure time (ALIBI_GEMM: onednn, openblas or blis;
// kernels/cpu/gemm.cpp), fp32 accumulation. Inside an OpenMP parallel region it runs on
// the calling thread.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// One operand of gemm_bf16: fp32, rounded to bf16 inside the call, or bf16 already (its bits
// as to_bf16 writes them, stored as the fp32 matrix would be). Pointers convert implicitly:
//   gemm_bf16(ta, tb, m, n, k, 1.0f, a /* float* */, lda, b16 /* uint16_t* */, ldb, 0.0f, c, ldc);
struct Bf16Operand {
  Bf16Operand(const float* x) : f32(x) {}  // implicit: either pointer reads as an operand
  Bf16Operand(const uint16_t* x) : bf16(x) {}
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;
};

// The same product on bf16-rounded operands (round to nearest even), fp32 accumulation and
// fp32 C: --matmul-precision bf16 on the CPU. oneDNN's matmul, on AVX512-BF16 instructions
// where the CPU has them (bf16_native()); builds without oneDNN throw. Not for use inside
// an OpenMP parallel region. An operand given in bf16 already gives the very bits of the call
// on the fp32 matrix it was rounded from: the linear layers keep their weights' bf16 copies
// (layers/bf16_copy.h) and the activations that feed products in bf16, and round each
// gradient once for both of its products, instead of rounding them in every product.
void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, Bf16Operand a,
               int64_t lda, Bf16Operand b, int64_t ldb, float beta, float* c, int64_t ldc);
// dst (n) = src rounded to bf16 with gemm_bf16's rounding (oneDNN's reorder: nearest even);
// builds without oneDNN throw.
void to_bf16(uint16_t* dst, const float* src, int64_t n);
bool gemm_bf16_available();  // this build has oneDNN
bool bf16_native();          // ... and the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)
const char* gemm_library();  // "onednn 2.6.3", "openblas 0.3.21", "blis 0.9.0": for logs and benchmarks

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                 int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// y = alpha * op(A) x + beta * y, A row-major (m x n, row stride lda): the decode kernel's
// products of one query with its keys and of one row of weights with the values.
inline void gemv(bool trans, int64_t m, int64_t n, float alpha, const float* a, int64_t lda, const float* x,
                 float beta, float* y) {
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              alpha, a, static_cast<blasint>(lda), x, 1, beta, y, 1);
}

inline void gemv(bool trans, int64_t m, int64_t n, double alpha, const double* a, int64_t lda, const double* x,
                 double beta, double* y) {
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              alpha, a, static_cast<blasint>(lda), x, 1, beta, y, 1);
}

}  // namespace alibi::cpu
