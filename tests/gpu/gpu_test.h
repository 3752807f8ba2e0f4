// GPU tests skip themselves, with the reason, where no CUDA device exists (CI, laptops),
// so a green run says exactly what ran: ctest lists them as skipped.
//
//   TEST(CudaKernels, Gelu) { ALIBI_REQUIRE_GPU(); ... }
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "runtime/device.h"
#include "runtime/tensor.h"
#ifdef ALIBI_WITH_CUDA
#include "kernels/cuda/ops.h"
#endif

#define ALIBI_REQUIRE_GPU()                                                                  \
  do {                                                                                       \
    if (::alibi::cuda_device_count() == 0)                                                   \
      GTEST_SKIP() << "no CUDA device: " << ::alibi::cuda_unavailable_reason();              \
  } while (0)

namespace alibi::test {

// Device buffers from and to host vectors.
inline Tensor upload(const std::vector<float>& v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::f32, Device::cuda);
  copy_bytes(t.raw(), Device::cuda, v.data(), Device::cpu, v.size() * sizeof(float));
  return t;
}
inline std::vector<float> download(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  copy_bytes(v.data(), Device::cpu, t.raw(), Device::cuda, v.size() * sizeof(float));
  return v;
}

}  // namespace alibi::test
