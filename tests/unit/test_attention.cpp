// The CPU causal attention kernel with in-kernel ALiBi (kernels/cpu/attention.cpp) against
// the naive reference of tests/unit/attention_reference.h, written from the textbook
// formulas: full T x T scores with the bias from the paper's own slope recipe, causal
// softmax, output, and the backward of each step. Also a tensor-parallel shard against the
// full computation, a finite-difference check of the backward, and the kernel's memory
// staying linear in T, and the CPU keeping no prepared operands (AttentionParams::prepared).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/dispatch.h"
#include "runtime/error.h"
#include "tests/compare.h"
#include "tests/unit/attention_reference.h"

namespace alibi {
namespace {

using test::AttentionCase;
using test::AttentionInputs;
using test::AttentionResult;
using test::expect_close_per_element;
using test::QkvIndex;
using test::run_cpu_attention;

// Awkward sizes on purpose: T = 1, one below / at / above a tile of 64 (the kernel's; 130
// and 257 are one past multiples of 64 and 128 too), odd head counts (12 is not a power of
// two: its slopes interleave), a head size of 4, tensor-parallel shards, and T = 200 with
// slope 1/2, where far keys' weights fall below e^-64 and the float kernel flushes them.
// clang-format off
const std::vector<AttentionCase> kCases = {
    {1, 1, 1, 4, PositionBias::alibi, 0, 1},
    {2, 1, 3, 16, PositionBias::alibi, 0, 3},
    {1, 63, 8, 16, PositionBias::alibi, 0, 8},
    {2, 64, 3, 32, PositionBias::alibi, 0, 3},
    {1, 65, 12, 4, PositionBias::alibi, 0, 12},
    {2, 130, 1, 32, PositionBias::alibi, 0, 1},
    {1, 130, 12, 16, PositionBias::none, 0, 12},
    {2, 65, 8, 32, PositionBias::none, 0, 8},
    {2, 63, 3, 16, PositionBias::alibi, 3, 12},   // rank 1 of tp=4 over 12 heads
    {1, 130, 8, 4, PositionBias::alibi, 8, 16},   // rank 1 of tp=2 over 16 heads
    {2, 257, 1, 16, PositionBias::alibi, 11, 12}, // the last head alone
    {1, 200, 8, 16, PositionBias::alibi, 0, 8},
};
// clang-format on

// ---- tests -------------------------------------------------------------------------------------

// Double: kernel and reference do the same sums in a different order (blocked GEMMs,
// online rescaling vs one-pass softmax); each step loses ~1e-16 relative, over <= 257
// terms of O(1..10) values that is at worst ~1e-13 (measured: 2e-15), so 1e-10 leaves
// room without hiding a bug (a wrong mask or bias is an O(1e-3..1) error).
TEST(Attention, MatchesReferenceDouble) { test::expect_cpu_attention_matches_naive<double>(kCases, 1e-10); }

// Float: the kernel's epsilon is 6e-8 and its exp is ~1 ulp; accumulated over <= 257-term
// sums and three chained products in the backward the error can reach a few 1e-6
// (measured: 5e-7) against the exact (double) answer for the same float inputs. 1e-4
// keeps a margin for other BLAS builds and summation orders.
TEST(Attention, MatchesReferenceFloat) { test::expect_cpu_attention_matches_naive<float>(kCases, 1e-4); }

// A tensor-parallel shard (heads [4, 8) of 12, as rank 1 of tp = 3 holds them) computes
// exactly its heads of the full computation: the slopes come from global head indices.
TEST(Attention, ShardEqualsItsHeadsOfTheFullComputation) {
  const AttentionCase full{2, 65, 12, 16, PositionBias::alibi, 0, 12};
  const AttentionCase shard{2, 65, 4, 16, PositionBias::alibi, 4, 12};
  const AttentionInputs in = test::random_attention_inputs(full, 7);
  const QkvIndex at_full{full.T, full.NH, full.HS}, at_shard{shard.T, shard.NH, shard.HS};
  AttentionInputs in_s;
  in_s.qkv.resize((size_t)shard.B * shard.T * shard.NH * 3 * shard.HS);
  for (int b = 0; b < full.B; ++b)
    for (int t = 0; t < full.T; ++t)
      for (int h = 0; h < shard.NH; ++h) {
        for (int part = 0; part < 3; ++part)
          for (int d = 0; d < full.HS; ++d)
            in_s.qkv[at_shard(b, t, h, part, d)] = in.qkv[at_full(b, t, shard.head_offset + h, part, d)];
        for (int d = 0; d < full.HS; ++d)
          in_s.dout.push_back(in.dout[(((int64_t)b * full.T + t) * full.NH + shard.head_offset + h) * full.HS + d]);
      }
  const AttentionResult f = run_cpu_attention<double>(full, in);
  const AttentionResult s = run_cpu_attention<double>(shard, in_s);
  std::vector<double> out_f, lse_f, dqkv_f;  // the full result's shard heads, in shard layout
  for (int b = 0; b < full.B; ++b)
    for (int t = 0; t < full.T; ++t)
      for (int h = 0; h < shard.NH; ++h)
        for (int d = 0; d < full.HS; ++d)
          out_f.push_back(f.out[(((int64_t)b * full.T + t) * full.NH + shard.head_offset + h) * full.HS + d]);
  for (int b = 0; b < full.B; ++b)
    for (int h = 0; h < shard.NH; ++h)
      for (int t = 0; t < full.T; ++t)
        lse_f.push_back(f.lse[((int64_t)b * full.NH + shard.head_offset + h) * full.T + t]);
  for (int b = 0; b < full.B; ++b)
    for (int t = 0; t < full.T; ++t)
      for (int h = 0; h < shard.NH; ++h)
        for (int part = 0; part < 3; ++part)
          for (int d = 0; d < full.HS; ++d)
            dqkv_f.push_back(f.dqkv[at_full(b, t, shard.head_offset + h, part, d)]);
  // The same arithmetic on the same numbers; only BLAS's blocking might differ with the
  // strides, so allow a few ulps in double.
  expect_close_per_element("out", s.out, out_f, 1e-13);
  expect_close_per_element("lse", s.lse, lse_f, 1e-13);
  expect_close_per_element("dqkv", s.dqkv, dqkv_f, 1e-13);
  // And the local slope of head 0 would be wrong: the shard must differ from a model of 4 heads.
  const AttentionCase four_heads{2, 65, 4, 16, PositionBias::alibi, 0, 4};
  const AttentionResult wrong = run_cpu_attention<double>(four_heads, in_s);
  double diff = 0;
  for (size_t i = 0; i < wrong.out.size(); ++i) diff = std::max(diff, std::abs(wrong.out[i] - s.out[i]));
  EXPECT_GT(diff, 1e-3);
}

// The backward against central differences of loss = sum(out * dout), over every element
// of qkv (tolerance: test::expect_attention_matches_finite_differences).
TEST(Attention, BackwardMatchesFiniteDifferences) {
  const AttentionCase c{1, 6, 2, 4, PositionBias::alibi, 1, 3};
  const AttentionInputs in = test::random_attention_inputs(c, 11);
  const AttentionResult analytic = run_cpu_attention<double>(c, in);
  test::expect_attention_matches_finite_differences(
      c, in, in.qkv.size(), [](AttentionInputs& x, size_t i, double e) { x.qkv[i] += e; }, analytic.dqkv, "dqkv");
}

// No T x T buffer: at T = 2048 a score matrix would be 16 MB in float. The kernel's working
// memory is O(tile^2 + tile * HS + T) per thread (measured: 57 KB per thread here), so the
// peak growth through the allocator must stay under a bound linear in T, threads x 64 T
// floats (512 KB per thread, 1/32 of T^2 floats), and doubling T at most doubles it (a T^2
// term would quadruple it).
TEST(Attention, MemoryIsLinearInT) {
  const int T = 2048;
  const size_t grown = test::attention_peak_growth(PositionBias::alibi, T);
  const size_t bound = static_cast<size_t>(omp_get_max_threads()) * 64 * T * sizeof(float);
  EXPECT_LT(grown, bound) << "peak grew by " << grown << " bytes; T x T floats would be "
                          << (size_t)T * T * sizeof(float);
  EXPECT_LE(grown, 2 * test::attention_peak_growth(PositionBias::alibi, T / 2))
      << "working memory grows faster than linearly in T";
}

TEST(Attention, RejectsLocalHeadCountAsGlobal) {
  std::vector<float> buf(3 * 4 * 8, 0.0f), out(4 * 8), lse(4);
  AttentionParams<float> p = fused_qkv_params(buf.data(), out.data(), lse.data(), 1, 4, 1, 8);
  p.head_offset = 2;    // a shard's first head ...
  p.n_heads_total = 1;  // ... but the local count passed as the global one
  EXPECT_THROW(cpu::attention_forward(p), ShapeError);
  p.n_heads_total = 4;
  EXPECT_NO_THROW(cpu::attention_forward(p));
}

// The CPU kernels read q, k, v where they lie: the layer is told to keep no prepared array
// for them, and one passed anyway is neither read nor written. In a CUDA build the same
// params on the device would keep 3 B NH T HS bf16 elements (a host-side answer: no GPU needed).
TEST(Attention, CpuKeepsNoPreparedOperands) {
  const int B = 2, T = 5, NH = 2, HS = 32;
  std::vector<float> qkv(3 * B * T * NH * HS), out(B * T * NH * HS), lse(B * NH * T), dqkv(qkv.size());
  std::vector<float> dout(out.size(), 0.5f);
  for (size_t i = 0; i < qkv.size(); ++i) qkv[i] = std::sin(0.37f * i);
  AttentionParams<float> p = fused_qkv_params(qkv.data(), out.data(), lse.data(), B, T, NH, HS);
  p.precision = MatmulPrecision::bf16;
  EXPECT_EQ(ops::attention_prepared_elements<float>(Device::cpu, p), 0);
  std::vector<double> qkv64(qkv.begin(), qkv.end()), out64(out.size()), lse64(lse.size());
  EXPECT_EQ(ops::attention_prepared_elements<double>(
                Device::cpu, fused_qkv_params(qkv64.data(), out64.data(), lse64.data(), B, T, NH, HS)),
            0);
#ifdef ALIBI_WITH_CUDA
  EXPECT_EQ(ops::attention_prepared_elements<float>(Device::cuda, p), int64_t{3} * B * NH * T * HS);
  p.precision = MatmulPrecision::fp32;  // the exact kernels prepare per call
  EXPECT_EQ(ops::attention_prepared_elements<float>(Device::cuda, p), 0);
  p.precision = MatmulPrecision::bf16;
#endif
  std::vector<uint16_t> prepared(3 * out.size(), 0x1234);
  p.prepared = prepared.data();
  float* d = dqkv.data();
  ops::attention_forward<float>(Device::cpu, p);
  ops::attention_backward<float>(Device::cpu, p, dout.data(), d, d + HS, d + 2 * HS);
  EXPECT_EQ(prepared, std::vector<uint16_t>(3 * out.size(), 0x1234));
}

}  // namespace
}  // namespace alibi
