// What the CPU kernel tests share (test_kernels.cpp, test_optimizer_kernels.cpp): vectors of
// reproducible random values, the float and double tolerances against a naive formula, and a
// scope at a given OpenMP thread count (for bitwise determinism across thread counts).
#pragma once

#include <omp.h>

#include <cstdint>
#include <random>
#include <vector>

namespace alibi::test {

using Vec = std::vector<double>;
using FVec = std::vector<float>;

// A float forward vs the naive double formula, relative to (1 + |y|): float rounding
// (6e-8 per operation) summed over at most ~130 terms stays below 1e-5.
inline constexpr double kFloatTol = 1e-5;
// The same formula evaluated in double in a different order: a few ulps.
inline constexpr double kDoubleTol = 1e-12;

inline Vec random_vec(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Vec v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

inline FVec to_float(const Vec& v) { return FVec(v.begin(), v.end()); }

// Runs f with the OpenMP thread count set to n, then restores it.
template <class F>
void with_threads(int n, F f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(n);
  f();
  omp_set_num_threads(saved);
}

}  // namespace alibi::test
