// alibi_slope (kernels/alibi.h) against the paper's iterative get_slopes, re-implemented
// here from its description (Press et al., "Train Short, Test Long", reference code), and
// against the hand values of DESIGN.md.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/alibi.h"

namespace alibi {
namespace {

// get_slopes_power_of_2(n): start = 2^(-2^-(log2(n) - 3)); ratio = start;
// slopes = [start * ratio^i for i in range(n)]
std::vector<double> get_slopes_power_of_2(int n) {
  const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
  const double ratio = start;
  std::vector<double> slopes(n);
  for (int i = 0; i < n; ++i) slopes[i] = start * std::pow(ratio, i);
  return slopes;
}

// get_slopes(n): the power-of-two slopes when n is one; otherwise those of the closest
// power of two below n, followed by every other slope of twice that, n - closest of them.
std::vector<double> get_slopes(int n) {
  const double l = std::log2(static_cast<double>(n));
  if (l == std::floor(l)) return get_slopes_power_of_2(n);
  const int closest = 1 << static_cast<int>(std::floor(l));
  std::vector<double> slopes = get_slopes_power_of_2(closest);
  const std::vector<double> extra = get_slopes(2 * closest);
  for (int i = 0; i < n - closest; ++i) slopes.push_back(extra[2 * i]);  // [0::2][:n - closest]
  return slopes;
}

TEST(AlibiSlope, MatchesPaperReferenceForOneTo128Heads) {
  for (int n = 1; n <= 128; ++n) {
    const std::vector<double> want = get_slopes(n);
    ASSERT_EQ(static_cast<int>(want.size()), n);
    for (int h = 0; h < n; ++h) {
      // The reference multiplies pow(ratio, i) (a few ulps each) where the closed form takes
      // one exp2; DESIGN.md measures ~1e-14 relative, so 1e-12 leaves margin and still fails
      // for any wrong exponent (the nearest wrong slope differs by 2^(-4/128) - 1 = 2%).
      EXPECT_NEAR(alibi_slope(h, n), want[h], 1e-12 * want[h]) << "n = " << n << ", head " << h;
    }
  }
}

TEST(AlibiSlope, EightHeadsAreHalfToOneOver256) {
  for (int h = 0; h < 8; ++h) {
    // 2^-(h+1) is a power of two; exp2 of an integer is exact in glibc and CUDA, but
    // allow 4 ulps (EXPECT_DOUBLE_EQ) rather than depend on it.
    EXPECT_DOUBLE_EQ(alibi_slope(h, 8), 1.0 / (2 << h)) << "head " << h;
  }
}

TEST(AlibiSlope, TwelveHeadsInterleave) {
  const double want_log2[12] = {-1, -2, -3, -4, -5, -6, -7, -8, -0.5, -1.5, -2.5, -3.5};
  for (int h = 0; h < 12; ++h) {
    EXPECT_NEAR(std::log2(alibi_slope(h, 12)), want_log2[h], 1e-12) << "head " << h;  // a few ulps
  }
}

TEST(AlibiSlope, ShardUsesGlobalHeadsNotLocal) {
  // A TP rank with heads 8..11 of 12 takes the interleaved slopes, not those of 4 local heads.
  EXPECT_DOUBLE_EQ(alibi_slope(8, 12), std::pow(2.0, -0.5));
  EXPECT_NE(alibi_slope(8, 12), 0.25);  // head 0 of 4 heads: 2^-2
}

}  // namespace
}  // namespace alibi
