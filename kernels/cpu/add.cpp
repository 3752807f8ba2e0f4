// Residual add on the CPU: out = a + b, out may alias a or b.
#include "kernels/ops.h"

namespace alibi::cpu {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kAddParallelMin = 1 << 15;

template <class T>
void add(T* out, const T* a, const T* b, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kAddParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template void add<float>(float*, const float*, const float*, int64_t);
template void add<double>(double*, const double*, const double*, int64_t);

}  // namespace alibi::cpu
