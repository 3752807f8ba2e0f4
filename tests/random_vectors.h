// Float inputs for the tests of the CUDA kernels (tests/emu on the host emulator,
// tests/gpu on a device): random vectors drawn from a seed, and NaN-filled outputs, so
// that an element a kernel never writes fails the comparison.
//
//   const std::vector<float> x = randn(N * C, 11), dy = uniform(N * C, 12, -1.0f, 1.0f);
//   std::vector<float> out = nans(N * C);
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace alibi::test {

// n draws of N(0, scale^2).
inline std::vector<float> randn(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

// n draws uniform in [lo, hi).
inline std::vector<float> uniform(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

inline std::vector<float> nans(int64_t n) { return std::vector<float>(static_cast<size_t>(n), std::nanf("")); }

}  // namespace alibi::test
