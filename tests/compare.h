// How the tests compare a result with its reference: one function per meaning, named
// after it, each with the tolerance as its last arguments. Every element must be finite
// (tests start `=` outputs as NaN, so an element never written fails).
//
//   // One formula evaluated two ways (a kernel against the naive loop, an analytic
//   // gradient against finite differences): |got - want| <= tol (1 + |want|) everywhere,
//   // absolute near zero and relative for large values.
//   expect_close_per_element("dinp", dx, numeric_grad(x, loss), 1e-7);
//
//   // A low-precision kernel (fp32 sums in another order, bf16 tensor cores) against a
//   // double reference: the largest and the mean error, relative to max |ref|, so that
//   // elements near zero are judged at the array's own scale.
//   expect_close_relative_to_max("dqkv", got, ref, 2e-2, 4e-3);   // max <= 2e-2, mean <= 4e-3
//
//   // A whole tensor computed another way (another parallel layout, another device), where
//   // single elements may cancel to near zero: the error's norm against the reference's.
//   expect_close_in_norm("blocks.0.mlp.fc.weight", got, ref, 1e-5);   // ||got - ref|| <= 1e-5 ||ref||
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace alibi::test {

// ---- per element -------------------------------------------------------------------------

// |got - want| <= tol (1 + |want|) at every element (tol = 0: equal); reports how many
// elements fail and the worst of them (by |got - want| / (1 + |want|)).
template <class G, class W>
void expect_close_per_element(const std::string& what, const std::vector<G>& got, const std::vector<W>& want,
                              double tol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t failures = 0, worst_at = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (std::abs(g - w) <= tol * (1 + std::abs(w))) continue;  // NaN fails here too
    ++failures;
    const double err = std::abs(g - w) / (1 + std::abs(w));
    if (!(err <= worst)) {  // a failing element's err is above tol >= 0, or NaN
      worst = std::isnan(err) ? INFINITY : err;
      worst_at = i;
    }
  }
  if (failures > 0) {
    ADD_FAILURE() << what << ": " << failures << " of " << got.size() << " elements differ by more than " << tol
                  << " (1 + |want|); the worst, [" << worst_at << "]: got " << got[worst_at] << ", want "
                  << want[worst_at] << ", |got - want| / (1 + |want|) = " << worst;
  }
}

// ---- relative to the reference's scale ---------------------------------------------------

struct RelativeError {
  double max = 0, mean = 0;  // relative to max |ref|; infinite when an element is not finite
  size_t worst_at = 0;       // where the largest error is
  double scale = 0;          // max |ref|
};

// The largest and the mean |got - ref|, relative to max |ref|; a non-finite element of got
// is reported (as `what`) and makes both infinite.
template <class G, class R>
RelativeError relative_to_max(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref) {
  RelativeError e;
  e.scale = 1e-30;
  for (R r : ref) e.scale = std::max(e.scale, std::abs(static_cast<double>(r)));
  double worst = 0, total = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    if (!std::isfinite(static_cast<double>(got[i]))) {
      ADD_FAILURE() << what << " element " << i << " is " << got[i] << " (never written?)";
      e.max = e.mean = INFINITY;
      e.worst_at = i;
      return e;
    }
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    total += d;
    if (d > worst) {
      worst = d;
      e.worst_at = i;
    }
  }
  e.max = worst / e.scale;
  e.mean = ref.empty() ? 0.0 : total / ref.size() / e.scale;
  return e;
}

// max error <= max_rel, and mean error <= mean_rel when mean_rel > 0, both relative to
// max |ref| (max_rel = 0: equal).
template <class G, class R>
void expect_close_relative_to_max(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref,
                                  double max_rel, double mean_rel = 0.0) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  const RelativeError e = relative_to_max(what, got, ref);
  if (!std::isfinite(e.max)) return;  // already reported
  EXPECT_LE(e.max, max_rel) << what << ": element " << e.worst_at << " is " << got[e.worst_at] << ", reference "
                            << ref[e.worst_at] << " (max |ref| " << e.scale << ")";
  if (mean_rel > 0) {
    EXPECT_LE(e.mean, mean_rel) << what << ": mean error relative to max |ref|";
  }
}

// ---- in norm -----------------------------------------------------------------------------

// ||got - ref||_2 <= rel ||ref||_2 (+ 1e-12, so that an all-zero reference passes with an
// all-zero result), the sums in double.
template <class G, class R>
void expect_close_in_norm(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref, double rel) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), r = static_cast<double>(ref[i]);
    diff += (g - r) * (g - r);
    norm += r * r;
  }
  EXPECT_LE(std::sqrt(diff), rel * std::sqrt(norm) + 1e-12) << what << ": error norm against the reference's "
                                                             << std::sqrt(norm);
}

}  // namespace alibi::test
