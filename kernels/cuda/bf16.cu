// fp32 -> bf16 for the matrix products under --matmul-precision bf16: the weights' working
// copies (layers/bf16_copy.h, once per weight change) and the activation or gradient operand
// beside them (matmul.cu, per product: cuBLAS multiplies bf16 by bf16 only). The rounding is
// kernels/bf16.h's, which the emulator tests (tests/emu/test_kernels_emu.cpp) check.
#include "kernels/bf16.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace alibi::cuda {

namespace {

// One element per thread and step of a grid-stride loop: a warp reads 128 contiguous bytes and
// writes 64.
__global__ void to_bf16_kernel(uint16_t* dst, const float* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = bf16_bits(__ldg(src + i));
}

}  // namespace

void to_bf16(uint16_t* dst, const float* src, int64_t n) {
  if (n == 0) return;
  to_bf16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, src, n);
  ALIBI_CUDA_LAUNCHED();
}

}  // namespace alibi::cuda
