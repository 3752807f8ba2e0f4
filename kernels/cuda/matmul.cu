// Linear layers on cuBLAS: row-major (N, IC) x (OC, IC)^T products expressed as the
// column-major GEMMs cuBLAS computes, with fp32 tensors and, by default, bf16 tensor-core
// compute with fp32 accumulation. Given the weight's bf16 working copy (kernels/cuda/ops.h),
// the product is bf16 x bf16 -> fp32 (CUBLAS_COMPUTE_32F): an input its producer stored in
// bf16 (a LayerNorm's or GELU's output) is read as it is, any other input is rounded into
// bf16 scratch, and a backward's dout once for both of its products. Without a copy, cuBLAS
// rounds both fp32 operands itself (CUBLAS_COMPUTE_32F_FAST_16BF).
//
// Row-major X (r, c) is column-major X^T (c, r), so out = inp W^T becomes
// out^T (OC, N) = W^T-view (OC, IC) x inp^T (IC, N):  gemm(T, N, OC, N, IC, W, inp, out).
#include <cublas_v2.h>

#include <mutex>

#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace alibi::cuda {

namespace {

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

#define ALIBI_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                             \
    const cublasStatus_t alibi_st_ = (call);                                                       \
    ALIBI_CHECK_AS(DeviceError, alibi_st_ == CUBLAS_STATUS_SUCCESS, #call << " failed: " << cublas_status_name(alibi_st_)); \
  } while (0)

// One handle per process (per device: one GPU per rank), on the process stream, with a
// 32 MiB workspace so cuBLAS can pick its split-K kernels.
cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    ALIBI_CUBLAS_CHECK(cublasCreate(&created));
    ALIBI_CUBLAS_CHECK(cublasSetStream(created, stream()));
    void* workspace = cuda_allocate(size_t{32} << 20);  // lives as long as the handle
    ALIBI_CUBLAS_CHECK(cublasSetWorkspace(created, workspace, size_t{32} << 20));
    return created;
  }();
  return h;
}

cublasComputeType_t compute_type(MatmulPrecision precision) {
  switch (precision) {
    case MatmulPrecision::automatic:  // resolved by Model::to_device; bf16 is CUDA's auto
    case MatmulPrecision::bf16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case MatmulPrecision::tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MatmulPrecision::fp32: return CUBLAS_COMPUTE_32F;
  }
  return CUBLAS_COMPUTE_32F;
}

// C (m, n) col-major = alpha op(A) op(B) + beta C, fp32 storage.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, MatmulPrecision precision) {
  const float alpha = 1.0f;
  ALIBI_CUBLAS_CHECK(cublasGemmEx(handle(), ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                                  &alpha, A, CUDA_R_32F, static_cast<int>(lda), B, CUDA_R_32F, static_cast<int>(ldb),
                                  &beta, C, CUDA_R_32F, static_cast<int>(ldc), compute_type(precision), CUBLAS_GEMM_DEFAULT));
}

// The same product on bf16 A and B (as their bits), fp32 C: tensor cores, fp32 accumulation.
void gemm_bf16(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, const uint16_t* A,
               int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const float alpha = 1.0f;
  ALIBI_CUBLAS_CHECK(cublasGemmEx(handle(), ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                                  &alpha, A, CUDA_R_16BF, static_cast<int>(lda), B, CUDA_R_16BF, static_cast<int>(ldb),
                                  &beta, C, CUDA_R_32F, static_cast<int>(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// Whether a product takes the working-copy path: bf16 precision and a copy to read.
bool with_copy(MatmulPrecision precision, const uint16_t* weight_bf16) {
  return weight_bf16 != nullptr && (precision == MatmulPrecision::bf16 || precision == MatmulPrecision::automatic);
}

// x (n floats) rounded into bf16 scratch from the caching allocator: the stream orders its
// reuse after the products that read it.
Tensor bf16_scratch(const float* x, int64_t n) {
  Tensor t = Tensor::empty({n}, DType::u16, Device::cuda);
  to_bf16(t.data<uint16_t>(), x, n);
  return t;
}

// out (N, OC) += bias, one thread per element, bias row cached by the L1.
__global__ void add_bias_kernel(float* out, const float* bias, int64_t N, int64_t OC) {
  const int64_t total = N * OC;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x)
    out[i] += __ldg(bias + i % OC);
}

}  // namespace

void add_bias(float* out, const float* bias, int64_t N, int64_t OC) {
  if (N * OC == 0) return;
  add_bias_kernel<<<blocks_for(N * OC, 256), 256, 0, stream()>>>(out, bias, N, OC);
  ALIBI_CUDA_LAUNCHED();
}

// dbias (OC) += column sums of dout (N, OC), in two stages split over rows (column_sums.cuh).
void bias_grad(float* dbias, const float* dout, int64_t N, int64_t OC) {
  column_sums<1>(dbias, nullptr, N, OC, BiasColumn{dout, OC});
}

namespace {

// inp in bf16: as stored (inp_bf16), or rounded into `scratch` here.
const uint16_t* bf16_input(const float* inp, const uint16_t* inp_bf16, int64_t n, Tensor& scratch) {
  if (inp_bf16 != nullptr) return inp_bf16;
  scratch = bf16_scratch(inp, n);
  return scratch.data<uint16_t>();
}

// out (N, OC) = inp W^T, no bias: linear_forward's and linear_gelu_forward's product.
void forward_product(float* out, const float* inp, const float* weight, int64_t N, int64_t IC, int64_t OC,
                     MatmulPrecision precision, const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  ALIBI_CHECK(inp_bf16 == nullptr || with_copy(precision, weight_bf16),
              "cuda linear: a bf16 input without bf16 precision and the weight's bf16 copy");
  if (with_copy(precision, weight_bf16)) {
    Tensor scratch;
    gemm_bf16(CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, weight_bf16, IC, bf16_input(inp, inp_bf16, N * IC, scratch), IC,
              0.0f, out, OC);
  } else {
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, weight, IC, inp, IC, 0.0f, out, OC, precision);
  }
}

}  // namespace

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                    int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16,
                    const uint16_t* inp_bf16) {
  if (N == 0) return;
  forward_product(out, inp, weight, N, IC, OC, precision, weight_bf16, inp_bf16);
  if (bias != nullptr) add_bias(out, bias, N, OC);
}

void linear_gelu_forward(float* pre, float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                         int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16,
                         const uint16_t* inp_bf16, uint16_t* out_bf16) {
  if (N == 0) return;
  forward_product(pre, inp, weight, N, IC, OC, precision, weight_bf16, inp_bf16);
  bias_gelu_forward(pre, out, bias, N, OC, out_bf16);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t N, int64_t IC, int64_t OC, MatmulPrecision precision,
                     const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  if (N == 0) return;
  ALIBI_CHECK(inp_bf16 == nullptr || with_copy(precision, weight_bf16),
              "cuda linear: a bf16 input without bf16 precision and the weight's bf16 copy");
  if (with_copy(precision, weight_bf16)) {
    // dout rounded once for both products; inp as forward read it (kept in bf16 by its
    // producer, or rounded again here).
    const Tensor dout16 = bf16_scratch(dout, N * OC);
    Tensor scratch;
    const uint16_t* inp16 = bf16_input(inp, inp_bf16, N * IC, scratch);
    if (dinp != nullptr)
      gemm_bf16(CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, weight_bf16, IC, dout16.data<uint16_t>(), OC, 0.0f, dinp, IC);
    gemm_bf16(CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, inp16, IC, dout16.data<uint16_t>(), OC, 1.0f, dweight, IC);
  } else {
    // dinp^T (IC, N) = W-view (IC, OC) x dout^T (OC, N)
    if (dinp != nullptr) gemm(CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, weight, IC, dout, OC, 0.0f, dinp, IC, precision);
    // dW^T (IC, OC) += inp^T (IC, N) x dout (N, OC)
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, inp, IC, dout, OC, 1.0f, dweight, IC, precision);
  }
  if (dbias != nullptr) bias_grad(dbias, dout, N, OC);
}

}  // namespace alibi::cuda
