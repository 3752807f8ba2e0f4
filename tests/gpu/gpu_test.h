// GPU tests skip themselves, with the reason, where no CUDA device exists (CI, laptops),
// so a green run says exactly what ran: ctest lists them as skipped.
//
//   TEST(CudaKernels, Gelu) { ALIBI_REQUIRE_GPU(); ... }
#pragma once

#include <gtest/gtest.h>

#include "runtime/device.h"
#ifdef ALIBI_WITH_CUDA
#include "kernels/cuda/ops.h"
#endif

#define ALIBI_REQUIRE_GPU()                                                                  \
  do {                                                                                       \
    if (::alibi::cuda_device_count() == 0)                                                   \
      GTEST_SKIP() << "no CUDA device: " << ::alibi::cuda_unavailable_reason();              \
  } while (0)

#ifdef ALIBI_WITH_CUDA
namespace alibi {
// Sets the CUDA backend's matmul precision for one scope (the tests compare exact fp32
// runs with the CPU at fp32 tolerance, bf16 runs at bf16 tolerance).
struct PrecisionScope {
  cuda::MatmulPrecision saved = cuda::matmul_precision();
  explicit PrecisionScope(cuda::MatmulPrecision p) { cuda::set_matmul_precision(p); }
  ~PrecisionScope() { cuda::set_matmul_precision(saved); }
};
}  // namespace alibi
#endif
