// The ALiBi slopes by the paper's own recipe (Press et al., "Train Short, Test Long",
// reference code get_slopes), followed step by step rather than through kernels/alibi.h's
// closed form: the reference test_alibi_slope.cpp holds alibi_slope to, and the slopes of
// the naive attention (tests/unit/attention_reference.h).
#pragma once

#include <cmath>
#include <vector>

namespace alibi::test {

// get_slopes_power_of_2(n): start = 2^(-2^-(log2(n) - 3)); ratio = start;
// slopes = [start * ratio^i for i in range(n)]
inline std::vector<double> paper_slopes_power_of_2(int n) {
  const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
  const double ratio = start;
  std::vector<double> slopes(n);
  for (int i = 0; i < n; ++i) slopes[i] = start * std::pow(ratio, i);
  return slopes;
}

// get_slopes(n): the power-of-two slopes when n is one; otherwise those of the closest
// power of two below n, followed by every other slope of twice that, n - closest of them.
inline std::vector<double> paper_slopes(int n) {
  const double l = std::log2(static_cast<double>(n));
  if (l == std::floor(l)) return paper_slopes_power_of_2(n);
  const int closest = 1 << static_cast<int>(std::floor(l));
  std::vector<double> slopes = paper_slopes_power_of_2(closest);
  const std::vector<double> extra = paper_slopes(2 * closest);
  for (int i = 0; i < n - closest; ++i) slopes.push_back(extra[2 * i]);  // [0::2][:n - closest]
  return slopes;
}

}  // namespace alibi::test
