// The MLP's first bias and its GELU, fused: what cuBLASLt's GELU_AUX_BIAS / DGELU_BGRAD
// epilogues do, as two plain kernels, so the emulator (tests/emu) can check them against the
// CPU. Unfused, the bias was one pass over (N, F) after the GEMM, the GELU another, and
// backward's GELU derivative and bias gradient a pass each; here forward reads the GEMM's
// output once and backward reads dout and the pre-activation once. The formulas are
// kernels/elementwise.h's gelu / gelu_grad.
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/elementwise.h"

namespace alibi::cuda {

namespace {

// pre (N, F) += bias; out = gelu(pre) (fp32, or bf16 bits: store()). One thread per element,
// the bias row cached by the L1.
template <class Out>
__global__ void bias_gelu_forward_kernel(float* pre, Out* out, const float* bias, int64_t N, int64_t F) {
  const int64_t total = N * F;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const float x = pre[i] + __ldg(bias + i % F);
    pre[i] = x;
    store(out + i, gelu(x));
  }
}

// column_sums' element for backward: dpre[n, c] = dout[n, c] * gelu'(pre[n, c]), written once
// by the one thread that visits (n, c), and added to the column's bias gradient.
struct GeluBiasColumn {
  const float *dout, *pre;
  float* dpre;  // may alias dout: each element is read, then written, by the same thread
  int64_t F;
  __device__ void operator()(int64_t n, int64_t c, float* s) const {
    const int64_t i = n * F + c;
    const float g = dout[i] * gelu_grad(pre[i]);
    dpre[i] = g;
    s[0] += g;
  }
};

}  // namespace

void bias_gelu_forward(float* pre, float* out, const float* bias, int64_t N, int64_t F, uint16_t* out_bf16) {
  if (N * F == 0) return;
  if (out_bf16 != nullptr)
    bias_gelu_forward_kernel<uint16_t><<<blocks_for(N * F, 256), 256, 0, stream()>>>(pre, out_bf16, bias, N, F);
  else
    bias_gelu_forward_kernel<float><<<blocks_for(N * F, 256), 256, 0, stream()>>>(pre, out, bias, N, F);
  ALIBI_CUDA_LAUNCHED();
}

void gelu_bias_backward(float* dpre, float* dbias, const float* pre, const float* dout, int64_t N, int64_t F) {
  column_sums<1>(dbias, nullptr, N, F, GeluBiasColumn{dout, pre, dpre, F});  // two stages over rows
}

}  // namespace alibi::cuda
