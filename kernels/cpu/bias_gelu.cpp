// The MLP's fc with its GELU on the CPU: the unfused steps (linear_forward with its bias,
// gelu_forward; gelu_backward, bias_grad), so the CPU computes exactly what it did before the
// CUDA backend fused them (kernels/cuda/bias_gelu.cu).
#include "kernels/ops.h"

namespace alibi::cpu {

template <class T>
void linear_gelu_forward(T* pre, T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IC,
                         int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  linear_forward(pre, inp, weight, bias, N, IC, OC, precision, weight_bf16, inp_bf16);
  gelu_forward(out, pre, N * OC);
}

template <class T>
void gelu_bias_backward(T* dpre, T* dbias, const T* pre, const T* dout, int64_t N, int64_t OC) {
  gelu_backward(dpre, pre, dout, N * OC);
  bias_grad(dbias, dpre, N, OC);
}

#define ALIBI_INSTANTIATE(T)                                                                              \
  template void linear_gelu_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                       MatmulPrecision, const uint16_t*, const uint16_t*);                                  \
  template void gelu_bias_backward<T>(T*, T*, const T*, const T*, int64_t, int64_t);
ALIBI_INSTANTIATE(float)
ALIBI_INSTANTIATE(double)
#undef ALIBI_INSTANTIATE

}  // namespace alibi::cpu
