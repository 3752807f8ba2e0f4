// exp for the CPU attention kernels' softmax weights (the blocked kernel and the decode
// kernel share it, so both form the same weights from the same scores).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace alibi::cpu {

// exp(x) for the softmax weights, whose arguments are <= 0 up to rounding (x - running max,
// x - lse). float: Cody-Waite range reduction and Cephes' degree-6 polynomial (about 1 ulp),
// written so that GCC vectorises the loops that call it; glibc's expf is a scalar call per
// element, which cost as much as the tile GEMMs at HS = 64. double keeps std::exp: it only
// runs in gradient checks, where accuracy is what matters.
inline float softmax_exp(float x) {
  // Weights below e^-64 (~1.6e-28) are flushed to exactly 0: they vanish against the row
  // sum (>= 1) at float precision, and left in, they make subnormal products in the P V,
  // dS and dS K GEMMs (ALiBi drives far-away weights to e^-1000), which made the backward
  // 15x slower at T = 2048. The clamp keeps the exponent bits below in range.
  constexpr float kFlush = -64.0f;
  const bool flush = x < kFlush;
  x = std::clamp(x, kFlush, 88.0f);
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (no rounding instruction needed): after the
  // add, the low mantissa bits of t hold n.
  constexpr float kShift = 12582912.0f;
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kShift);
  // r = x - n ln 2 in two steps: 0.693359375 is exact in float, so n * it is exact too.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return flush ? 0.0f : p * std::bit_cast<float>((ni + 127) << 23);
}
inline double softmax_exp(double x) { return std::exp(x); }

}  // namespace alibi::cpu
