// A result against its reference, for the kernel tests: the largest and the mean absolute
// error, both relative to the largest reference magnitude, and every element finite (the
// kernel tests start outputs as NaN, so an element never written fails here).
//
//   expect_close("dqkv", got, ref, 2e-2, 4e-3);   // max <= 2e-2, mean <= 4e-3 of max |ref|
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace alibi::test {

struct RelativeError {
  double max = 0, mean = 0;  // relative to max |ref|; infinite when an element is not finite
  size_t worst_at = 0;       // where the largest error is
  double scale = 0;          // max |ref|
};

template <class G, class R>
RelativeError relative_error(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref) {
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

// max error <= max_rel, and mean error <= mean_rel when mean_rel > 0 (relative to max |ref|).
template <class G, class R>
void expect_close(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref, double max_rel,
                  double mean_rel = 0.0) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  const RelativeError e = relative_error(what, got, ref);
  if (!std::isfinite(e.max)) return;  // already reported
  EXPECT_LE(e.max, max_rel) << what << ": element " << e.worst_at << " is " << got[e.worst_at] << ", reference "
                            << ref[e.worst_at] << " (max |ref| " << e.scale << ")";
  if (mean_rel > 0) {
    EXPECT_LE(e.mean, mean_rel) << what << ": mean error relative to max |ref|";
  }
}

}  // namespace alibi::test
