// GELU (tanh approximation) on the CPU; the formula is kernels/elementwise.h's.
#include "kernels/elementwise.h"
#include "kernels/ops.h"

namespace alibi::cpu {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kGeluParallelMin = 1 << 14;

template <class T>
void gelu_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kGeluParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = gelu(inp[i]);
}

// dinp = dout * gelu'(inp)
template <class T>
void gelu_backward(T* dinp, const T* inp, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kGeluParallelMin)
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * gelu_grad(inp[i]);
}

template void gelu_forward<float>(float*, const float*, int64_t);
template void gelu_forward<double>(double*, const double*, int64_t);
template void gelu_backward<float>(float*, const float*, const float*, int64_t);
template void gelu_backward<double>(double*, const double*, const double*, int64_t);

}  // namespace alibi::cpu
