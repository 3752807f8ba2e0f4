// The CPU's fp32 and bf16 GEMMs (kernels/blas.h), over the library chosen at configure time:
//   ALIBI_GEMM=onednn   oneDNN's JIT sgemm, and its matmul primitive for bf16 (the default)
//   ALIBI_GEMM=openblas OpenBLAS's cblas_sgemm; no bf16
//   ALIBI_GEMM=blis     BLIS's typed API (bli_sgemm); no bf16
// bench/vs_pytorch.sh and bench/bench_gemm compare them; bench/RESULTS.md has the numbers.
#include <cblas.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/blas.h"

#if defined(ALIBI_GEMM_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>
#elif defined(ALIBI_GEMM_BLIS)
#include <blis.h>
#endif

namespace alibi::cpu {

#if defined(ALIBI_GEMM_ONEDNN)

namespace {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// The stored matrix behind op(X) (rows x cols of op(X), leading dimension ld) as oneDNN
// sees it: logical dims of op(X), strides that read the stored layout.
dnnl::memory::desc operand(int64_t rows, int64_t cols, bool trans, int64_t ld, dnnl::memory::data_type type) {
  using dims = dnnl::memory::dims;
  return dnnl::memory::desc(dims{rows, cols}, type, trans ? dims{1, ld} : dims{ld, 1});
}

// X (fp32, as stored) -> a bf16 copy in the same layout, through oneDNN's reorder (JIT,
// threaded; round to nearest even). `buffer` is a per-thread scratch that only grows.
dnnl::memory reorder_to_bf16(dnnl::stream& s, int64_t rows, int64_t cols, bool trans, int64_t ld, const float* x,
                             std::vector<uint16_t>& buffer) {
  const int64_t stored_rows = trans ? cols : rows;
  buffer.resize(static_cast<size_t>(stored_rows * ld));
  auto src = dnnl::memory(operand(rows, cols, trans, ld, dnnl::memory::data_type::f32), engine(),
                          const_cast<float*>(x));
  auto dst = dnnl::memory(operand(rows, cols, trans, ld, dnnl::memory::data_type::bf16), engine(), buffer.data());
  dnnl::reorder(src, dst).execute(s, src, dst);
  return dst;
}

// C = alpha * A B + beta * C on bf16 operands already in oneDNN memory: alpha as the output
// scale, beta as a sum post-op (its scale applies to the C already there). The primitive
// cache keeps these per shape.
void matmul_bf16(dnnl::stream& s, const dnnl::memory& am, const dnnl::memory& bm, int64_t m, int64_t n, float alpha,
                 float beta, float* c, int64_t ldc) {
  auto cm = dnnl::memory(operand(m, n, false, ldc, dnnl::memory::data_type::f32), engine(), c);
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(am.get_desc(), bm.get_desc(), cm.get_desc()), attr,
                                        engine());
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  s.wait();
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                          beta, c, ldc);
  if (status != dnnl_success)
    throw std::runtime_error("oneDNN sgemm failed (status " + std::to_string(status) + ") on " + std::to_string(m) +
                             "x" + std::to_string(n) + "x" + std::to_string(k));
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, Bf16Operand a,
               int64_t lda, Bf16Operand b, int64_t ldb, float beta, float* c, int64_t ldc) {
  thread_local std::vector<uint16_t> a16, b16;
  dnnl::stream s(engine());
  const auto bf16_memory = [&](Bf16Operand x, int64_t rows, int64_t cols, bool trans, int64_t ld,
                               std::vector<uint16_t>& buffer) {
    if (x.bf16 == nullptr) return reorder_to_bf16(s, rows, cols, trans, ld, x.f32, buffer);
    return dnnl::memory(operand(rows, cols, trans, ld, dnnl::memory::data_type::bf16), engine(),
                        const_cast<uint16_t*>(x.bf16));
  };
  const dnnl::memory am = bf16_memory(a, m, k, trans_a, lda, a16);
  const dnnl::memory bm = bf16_memory(b, k, n, trans_b, ldb, b16);
  matmul_bf16(s, am, bm, m, n, alpha, beta, c, ldc);
}

void to_bf16(uint16_t* dst, const float* src, int64_t n) {
  if (n == 0) return;
  using dt = dnnl::memory::data_type;
  dnnl::stream s(engine());
  auto from = dnnl::memory(operand(1, n, false, n, dt::f32), engine(), const_cast<float*>(src));
  auto to = dnnl::memory(operand(1, n, false, n, dt::bf16), engine(), dst);
  dnnl::reorder(from, to).execute(s, from, to);
  s.wait();
}

bool gemm_bf16_available() { return true; }

bool bf16_native() { return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16; }

const char* gemm_library() {
  static const std::string name = [] {
    const dnnl_version_t* v = dnnl_version();
    return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  }();
  return name.c_str();
}

#else  // OpenBLAS or BLIS: fp32 only

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if defined(ALIBI_GEMM_BLIS)
  // Row-major X with leading dimension ld: row stride ld, column stride 1 (op() by trans_t).
  float al = alpha, be = beta;
  bli_sgemm(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k,
            &al, const_cast<float*>(a), lda, 1, const_cast<float*>(b), ldb, 1, &be, c, ldc, 1);
#else
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
#endif
}

namespace {
[[noreturn]] void no_bf16() {
  throw std::runtime_error("--matmul-precision bf16 on the CPU needs oneDNN: rebuild with -DALIBI_GEMM=onednn "
                           "(apt-get install libdnnl-dev), or use --matmul-precision fp32");
}
}  // namespace

void gemm_bf16(bool, bool, int64_t, int64_t, int64_t, float, Bf16Operand, int64_t, Bf16Operand, int64_t, float, float*,
               int64_t) {
  no_bf16();
}
void to_bf16(uint16_t*, const float*, int64_t) { no_bf16(); }

bool gemm_bf16_available() { return false; }
bool bf16_native() { return false; }

const char* gemm_library() {
#if defined(ALIBI_GEMM_BLIS)
  static const std::string name = std::string("blis ") + bli_info_get_version_str();
  return name.c_str();
#else
  return "openblas";
#endif
}

#endif

}  // namespace alibi::cpu
