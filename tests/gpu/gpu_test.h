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

