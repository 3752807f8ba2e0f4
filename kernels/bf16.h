// bfloat16 from float, rounded to nearest even: the rounding of the CUDA backend's bf16
// matrix operands (kernels/cuda/bf16.cu), written once for host and device so that the
// emulator tests (tests/emu) check the formula the GPU runs. bf16 travels as its bits
// (uint16_t, DType::u16).
//
//   uint16_t h = bf16_bits(x);   // x's nearest bf16, ties to even
//   float y = bf16_value(h);     // back, exactly
//
// NaN stays NaN (quieted, sign kept), +-Inf stays +-Inf, a finite value past the largest bf16
// rounds to +-Inf, and subnormals round like any other value (no flush to zero); as
// runtime/gguf.cpp's to_bf16 for files. The CPU's bf16 products round through oneDNN instead
// (kernels/cpu/gemm.cpp), which flushes subnormals on AVX512-BF16 hardware.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/alibi.h"  // ALIBI_HOST_DEVICE

namespace alibi {

ALIBI_HOST_DEVICE inline uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

ALIBI_HOST_DEVICE inline uint16_t bf16_bits(float x) {
  uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN: quiet, sign kept
  // Adding 0x7fff rounds the upper half up past a half-way lower half; the kept half's lowest
  // bit breaks the tie towards even. A carry into the exponent is the right rounding too
  // (up to the next binade, or from the largest finite value to Inf).
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// The float a bf16 stands for (exact: bf16 is float's upper half).
ALIBI_HOST_DEVICE inline float bf16_value(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

}  // namespace alibi
