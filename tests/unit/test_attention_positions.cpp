// Rotary and T5 relative bias inside the CPU attention kernel (kernels/cpu/attention.cpp,
// element math in kernels/positions.h) against the naive reference of
// tests/unit/attention_reference.h, written from the papers' descriptions: q and k rotated
// explicitly in HF's rotate_half form, T5 buckets re-implemented from
// _relative_position_bucket, full T x T scores, causal softmax and the backward of each
// step, including the T5 table's gradient. Also finite differences, the table gradient's
// independence of the thread count, and memory staying linear in T.
#include <gtest/gtest.h>
#include <omp.h>

#include <iterator>
#include <vector>

#include "kernels/attention.h"
#include "kernels/positions.h"
#include "runtime/error.h"
#include "tests/unit/attention_reference.h"

namespace alibi {
namespace {

using test::AttentionCase;
using test::AttentionInputs;
using test::AttentionResult;
using test::ref_t5_bucket;
using test::run_cpu_attention;

// T not a multiple of the kernel's 64-row tiles (63, 65, 130) and T = 1; NH 1, 3, 12; HS 4,
// 16, 32. T5 at its defaults reaches the clamped last bucket at T = 130 (distances 128,
// 129); with 8 buckets and max distance 20 most of the distances are clamped. (The two
// zeros are ALiBi's head_offset and n_heads_total, which these methods do not read.)
// clang-format off
const std::vector<AttentionCase> kCases = {
    {2, 63, 3, 16, PositionBias::rotary},
    {2, 65, 12, 4, PositionBias::rotary},
    {2, 130, 1, 32, PositionBias::rotary},
    {2, 1, 3, 4, PositionBias::rotary},
    {2, 130, 3, 16, PositionBias::rotary, 0, 0, 500.0},
    {2, 63, 1, 32, PositionBias::t5},
    {2, 65, 3, 16, PositionBias::t5},
    {2, 130, 12, 4, PositionBias::t5},
    {2, 1, 1, 4, PositionBias::t5},
    {2, 130, 3, 16, PositionBias::t5, 0, 0, 10000, 8, 20},
};
// clang-format on

// ---- tests -------------------------------------------------------------------------------------

// Worked by hand from the formula at T5's defaults (32 buckets, max distance 128, so
// max_exact = 16 and bucket = 16 + int(16 ln(n/16) / ln 8) from n = 16 on):
//   n = 17: 16 * 0.0606 / 2.0794 = 0.47 -> 16     n = 18: 16 * 0.1178 / 2.0794 = 0.91 -> 16
//   n = 19: 16 * 0.1719 / 2.0794 = 1.32 -> 17     n = 20: 16 * 0.2231 / 2.0794 = 1.72 -> 17
//   n = 64: 16 * ln 4 / ln 8 = 10.67 -> 26        n = 127: 16 * 2.0715 / 2.0794 = 15.94 -> 31
//   n = 128: 16 + 16 = 32, clamped to 31          n = 500: clamped to 31
TEST(T5Bucket, HandTable) {
  const int n[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 64, 127, 128, 500};
  const int want[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 16, 17, 17, 26, 31, 31, 31};
  for (size_t i = 0; i < std::size(n); ++i) {
    EXPECT_EQ(ref_t5_bucket(n[i], 32, 128), want[i]) << "test's reimplementation, n=" << n[i];
    EXPECT_EQ(t5_bucket(n[i], 32, 128), want[i]) << "positions.h, n=" << n[i];
  }
}

// positions.h against the transcription for every distance a long window has, at the
// defaults and at settings where the exact and clamped ranges are short.
TEST(T5Bucket, MatchesTranscription) {
  const int settings[][2] = {{32, 128}, {8, 20}, {4, 6}, {64, 256}, {2, 3}};
  for (const auto& s : settings)
    for (int n = 0; n < 5000; ++n)
      ASSERT_EQ(t5_bucket(n, s[0], s[1]), ref_t5_bucket(n, s[0], s[1]))
          << "n=" << n << " buckets=" << s[0] << " max_distance=" << s[1];
}

// Double: kernel and reference do the same sums in a different order (blocked GEMMs,
// online softmax, distance-then-bucket sums for the table) and rotate with cos/sin of the
// same double angles; each step loses ~1e-16 relative, over <= 130-term sums of O(1..10)
// values at worst ~1e-13 (measured: 4e-15, on the table gradient), so 1e-10 leaves room
// without hiding a bug (a wrong angle, bucket or mask is an O(1e-3..1) error).
TEST(AttentionPositions, MatchesReferenceDouble) { test::expect_cpu_attention_matches_naive<double>(kCases, 1e-10); }

// Float: the kernel's epsilon is 6e-8 and its exp ~1 ulp; the rotation adds a rounding of
// cos/sin to float and two of its own per element; sums run over <= 130 terms and the
// backward chains three products, so a few 1e-6 against the exact (double) answer for the
// same float inputs is expected (measured: 4e-7 on dv, 9e-7 on the table gradient, which
// sums up to B T^2 / 2 float dS per bucket, in double, so their ~1e-7 errors add but do not
// compound). 1e-4 keeps a margin for other BLAS builds and summation orders.
TEST(AttentionPositions, MatchesReferenceFloat) { test::expect_cpu_attention_matches_naive<float>(kCases, 1e-4); }

// Central differences of loss = sum(out * dout) against what the backward returns, for
// every q and k element under rotary and every table entry under T5 (with 4 buckets and
// max distance 6 at T = 9, so exact, logarithmic and clamped buckets all occur); the
// tolerance is test::expect_attention_matches_finite_differences's.
TEST(AttentionPositions, RotaryBackwardMatchesFiniteDifferences) {
  const AttentionCase c{2, 7, 2, 4, PositionBias::rotary, 0, 0, 10.0};  // base 10: large angles at small t
  const AttentionInputs in = test::random_attention_inputs(c, 11);
  const AttentionResult r = run_cpu_attention<double>(c, in);
  test::expect_attention_matches_finite_differences(
      c, in, in.qkv.size(), [](AttentionInputs& x, size_t i, double e) { x.qkv[i] += e; }, r.dqkv, "dqkv");
}

TEST(AttentionPositions, T5TableGradientMatchesFiniteDifferences) {
  const AttentionCase c{2, 9, 2, 4, PositionBias::t5, 0, 0, 10000, 4, 6};
  const AttentionInputs in = test::random_attention_inputs(c, 12);
  const AttentionResult r = run_cpu_attention<double>(c, in);
  test::expect_attention_matches_finite_differences(
      c, in, in.table.size(), [](AttentionInputs& x, size_t i, double e) { x.table[i] += e; }, r.dtable, "dtable");
  test::expect_attention_matches_finite_differences(
      c, in, in.qkv.size(), [](AttentionInputs& x, size_t i, double e) { x.qkv[i] += e; }, r.dqkv, "dqkv");
}

// The table gradient is summed per (b, h), then over (b, h) in a fixed order: bitwise the
// same whatever the thread count (so are dq, dk, dv: one (b, h) is one thread's work).
TEST(AttentionPositions, T5GradientIndependentOfThreadCount) {
  const AttentionCase c{2, 130, 3, 16, PositionBias::t5};
  const AttentionInputs in = test::random_attention_inputs(c, 13);
  const int saved = omp_get_max_threads();
  std::vector<AttentionResult> runs;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    runs.push_back(run_cpu_attention<float>(c, in));
  }
  omp_set_num_threads(saved);
  for (size_t k = 1; k < runs.size(); ++k) {
    EXPECT_EQ(runs[k].dtable, runs[0].dtable) << "threads " << k + 1 << " vs 1";
    EXPECT_EQ(runs[k].dqkv, runs[0].dqkv) << "threads " << k + 1 << " vs 1";
  }
}

// No T x T buffer at T = 2048 (16 MB of float scores) for either method. What the kernel
// may hold: per thread its tiles (< 64 T floats, as in test_attention's bound) plus, for
// rotary, three T x HS copies (rotated q and k, the rotated q's gradient); per call a
// (T, HS/2) cos/sin pair and, for T5, (NH, T) bias rows and a T-int bucket index. Doubling
// T must at most double the peak (a T^2 term would quadruple it).
TEST(AttentionPositions, MemoryIsLinearInT) {
  const int T = 2048, NH = test::kPeakGrowthNH, HS = test::kPeakGrowthHS;
  const size_t per_thread = (64 + 3 * HS) * (size_t)T * sizeof(float);
  const size_t per_call = (HS + NH + 1) * (size_t)T * sizeof(float) + 4096;
  const size_t bound = omp_get_max_threads() * per_thread + per_call;
  for (PositionBias bias : {PositionBias::rotary, PositionBias::t5}) {
    SCOPED_TRACE(position_bias_name(bias));
    const size_t grown = test::attention_peak_growth(bias, T);
    EXPECT_LT(grown, bound) << "peak grew by " << grown << " bytes; T x T floats would be "
                            << (size_t)T * T * sizeof(float);
    EXPECT_LE(grown, 2 * test::attention_peak_growth(bias, T / 2)) << "working memory grows faster than linearly in T";
  }
}

TEST(AttentionPositions, RejectsBadSettings) {
  std::vector<float> buf(3 * 4 * 6, 0.0f), dbuf(buf.size()), out(4 * 6), lse(4), table(32), dtable(32);
  AttentionParams<float> p = fused_qkv_params(buf.data(), out.data(), lse.data(), 1, 4, 1, 6);  // one head of 6
  p.bias = PositionBias::rotary;
  p.HS = 5;  // odd: rotary has no pairs to turn
  EXPECT_THROW(cpu::attention_forward(p), ShapeError);
  p.HS = 6;
  EXPECT_NO_THROW(cpu::attention_forward(p));

  p.bias = PositionBias::t5;
  EXPECT_THROW(cpu::attention_forward(p), Error);  // no table
  p.t5_table = table.data();
  p.t5_max_distance = 16;  // not beyond the 16 exact buckets: the log-spaced range is empty
  EXPECT_THROW(cpu::attention_forward(p), Error);
  p.t5_max_distance = 128;
  EXPECT_NO_THROW(cpu::attention_forward(p));
  auto backward = [&] { cpu::attention_backward(p, out.data(), dbuf.data(), dbuf.data() + 6, dbuf.data() + 12); };
  EXPECT_THROW(backward(), Error);  // no table gradient to add into
  p.t5_table_grad = dtable.data();
  EXPECT_NO_THROW(backward());
}

}  // namespace
}  // namespace alibi
