// The optimizer's CPU kernels (kernels/ops.h): AdamW by hand and against a reference over
// several steps, decoupled weight decay, float tracking double; the gradient norm's sum of
// squares against a naive sum and bitwise across thread counts; the clip's in-place scale.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "tests/compare.h"
#include "tests/unit/kernel_test_support.h"

namespace alibi {
namespace {

using namespace test;

// ======================================= optimizer ======================================
// Hyperparameters that are exact in binary (float and double alike), so the hand values
// below are exact decimal arithmetic, not float approximations of 0.1 etc.
constexpr float kLr = 0.125f, kBeta1 = 0.875f, kBeta2 = 0.96875f, kEps = 0.0009765625f /* 2^-10 */,
                kWd = 0.0625f;

TEST(AdamW, OneStepHandComputed) {
  // p = 1, g = 1/2, m = v = 0, step 1: m = (1-b1) g, v = (1-b2) g^2, and the bias corrections
  // undo the (1-b) factors: mhat = 1/2, vhat = 1/4. p -= lr (0.5 / (0.5 + eps) + wd * 1).
  double p = 1, m = 0, v = 0;
  const double g = 0.5;
  cpu::adamw_update(&p, &g, &m, &v, 1, kLr, kBeta1, kBeta2, kEps, kWd, 1);
  EXPECT_NEAR(p, 0.8674311647173489, 1e-15);  // = 1 - 0.125 (0.5/0.5009765625 + 0.0625); a few ulps
  EXPECT_NEAR(m, 0.0625, 1e-17);               // (1 - 0.875) * 0.5, exact in binary
  EXPECT_NEAR(v, 0.0078125, 1e-17);            // (1 - 0.96875) * 0.25, exact in binary
  float pf = 1, mf = 0, vf = 0;
  const float gf = 0.5f;
  cpu::adamw_update(&pf, &gf, &mf, &vf, 1, kLr, kBeta1, kBeta2, kEps, kWd, 1);
  EXPECT_NEAR(pf, 0.8674311647173489, 1e-7);  // float: a few ulps of 0.87 (6e-8 each)
}

// AdamW as the paper writes it, scalar, in double: the reference for several steps.
double reference_adamw(double p, const Vec& grads) {
  double m = 0, v = 0;
  for (size_t t = 1; t <= grads.size(); ++t) {
    const double g = grads[t - 1];
    m = kBeta1 * m + (1 - kBeta1) * g;
    v = kBeta2 * v + (1 - kBeta2) * g * g;
    const double mhat = m / (1 - std::pow(kBeta1, t)), vhat = v / (1 - std::pow(kBeta2, t));
    p = p - kLr * (mhat / (std::sqrt(vhat) + kEps) + kWd * p);
  }
  return p;
}

TEST(AdamW, SeveralStepsMatchReference) {
  const int64_t n = 1000;  // n above the parallel threshold is tested in FloatTracksDouble
  Vec p = random_vec(n, 48), m(n, 0.0), v(n, 0.0);
  const Vec p0 = p;
  std::vector<Vec> grads(5);
  for (int s = 0; s < 5; ++s) grads[s] = random_vec(n, 49 + s, -2, 2);
  for (int s = 0; s < 5; ++s) cpu::adamw_update(p.data(), grads[s].data(), m.data(), v.data(), n, kLr, kBeta1, kBeta2, kEps, kWd, s + 1);
  Vec want(n);
  for (int64_t i = 0; i < n; ++i) {
    Vec gi(5);
    for (int s = 0; s < 5; ++s) gi[s] = grads[s][i];
    want[i] = reference_adamw(p0[i], gi);
  }
  expect_close_per_element("AdamW after 5 steps", p, want, kDoubleTol);
}

TEST(AdamW, WeightDecayIsDecoupled) {
  // Decoupled decay subtracts lr * wd * p whatever the gradient's size; L2-in-the-gradient
  // Adam would divide it by sqrt(vhat), which differs by 1e6 between these two gradients.
  for (double g : {1e-3, 1e3}) {
    double p_decay = 2, m1 = 0, v1 = 0, p_plain = 2, m2 = 0, v2 = 0;
    cpu::adamw_update(&p_decay, &g, &m1, &v1, 1, kLr, kBeta1, kBeta2, kEps, kWd, 1);
    cpu::adamw_update(&p_plain, &g, &m2, &v2, 1, kLr, kBeta1, kBeta2, kEps, 0.0f, 1);
    EXPECT_NEAR(p_plain - p_decay, 0.125 * 0.0625 * 2, 1e-15) << "g = " << g;  // lr * wd * p, a few ulps
  }
  double p = 2, m = 0, v = 0;
  const double zero = 0;  // no gradient: only the decay moves p
  cpu::adamw_update(&p, &zero, &m, &v, 1, kLr, kBeta1, kBeta2, kEps, kWd, 1);
  EXPECT_EQ(p, 1.984375);  // 2 (1 - lr wd), exact in binary
}

TEST(AdamW, FloatTracksDouble) {
  const int64_t n = 40000;  // above the parallel threshold
  const Vec p0 = random_vec(n, 55), g = random_vec(n, 56);
  Vec p = p0, m(n, 0.0), v(n, 0.0);
  FVec pf = to_float(p0), gf = to_float(g), mf(n, 0.f), vf(n, 0.f);
  cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), n, kLr, kBeta1, kBeta2, kEps, kWd, 3);
  cpu::adamw_update(pf.data(), gf.data(), mf.data(), vf.data(), n, kLr, kBeta1, kBeta2, kEps, kWd, 3);
  // Float rounds p, g and each operation (6e-8 relative, a few times over); a wrong
  // formula would move p by a sizeable part of lr = 0.125, far above 1e-5.
  expect_close_per_element("float AdamW", pf, p, 1e-5);
}

TEST(SumSquares, MatchesNaiveSum) {
  for (int64_t n : {0, 1, 7, 8, 9, 16383, 16384, 16385, 100003}) {
    const Vec x = random_vec(n, 57, -3, 3);
    double want = 0;
    for (double xi : x) want += xi * xi;
    // Positive terms summed in another order: each order's error is below n * 1.1e-16 of the
    // sum (1e-11 for n = 1e5).
    EXPECT_NEAR(cpu::sum_squares(x.data(), n), want, 1e-10 * want) << "n = " << n;
    const FVec xf = to_float(x);
    double want_f = 0;
    for (float xi : xf) want_f += static_cast<double>(xi) * xi;
    EXPECT_NEAR(cpu::sum_squares(xf.data(), n), want_f, 1e-10 * want_f) << "float n = " << n;
  }
}

TEST(SumSquares, IsBitwiseDeterministic) {
  const int64_t n = 1000003;
  const FVec x = to_float(random_vec(n, 58));
  double one = 0, two = 0, again = 0;
  with_threads(1, [&] { one = cpu::sum_squares(x.data(), n); });
  with_threads(2, [&] { two = cpu::sum_squares(x.data(), n); });
  with_threads(2, [&] { again = cpu::sum_squares(x.data(), n); });
  EXPECT_EQ(one, two);  // the gradient-norm clip must be reproducible bit for bit on resume
  EXPECT_EQ(two, again);
}

TEST(ScaleInplace, Scales) {
  for (int64_t n : {1, 13, 100000}) {
    const Vec x0 = random_vec(n, 59);
    Vec x = x0;
    cpu::scale_inplace(x.data(), n, 0.3);
    Vec want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = x0[i] * 0.3;
    expect_close_per_element("scale", x, want, 0.0);  // one multiplication: exact match
  }
}

}  // namespace
}  // namespace alibi
