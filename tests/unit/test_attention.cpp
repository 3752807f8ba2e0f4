// The CPU causal attention kernel with in-kernel ALiBi (kernels/cpu/attention.cpp) against
// a naive reference written here from the textbook formulas: full T x T scores with the
// bias from the paper's own slope recipe, causal softmax, output, and the backward of
// each step. Also a tensor-parallel shard against the full computation, a finite-
// difference check of the backward, and the kernel's memory staying linear in T.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/alibi.h"
#include "kernels/attention.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "runtime/tensor.h"
#include "tests/compare.h"

namespace alibi {
namespace {

using test::expect_close_per_element;

// ---- the reference ---------------------------------------------------------------------------

// The paper's get_slopes (Press et al., reference code), followed step by step rather than
// through alibi.h's closed form: a geometric sequence starting at 2^(-8/n) for n a power of
// two; otherwise the closest power of two's slopes, then every other slope of twice that.
std::vector<double> paper_slopes(int n) {
  auto power_of_2 = [](int n) {
    const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(n) - 3)));
    std::vector<double> s;
    for (int i = 0; i < n; ++i) s.push_back(start * std::pow(start, i));
    return s;
  };
  const double lg = std::log2(n);
  if (lg == std::floor(lg)) return power_of_2(n);
  const int closest = 1 << static_cast<int>(std::floor(lg));
  std::vector<double> s = power_of_2(closest);
  const std::vector<double> twice = paper_slopes(2 * closest);
  for (int k = 0; static_cast<int>(s.size()) < n; k += 2) s.push_back(twice[k]);
  return s;
}

struct Case {
  int B, T, NH, HS;
  int head_offset, n_heads_total;
  PositionBias bias;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "B=" << c.B << " T=" << c.T << " NH=" << c.NH << " HS=" << c.HS << " heads [" << c.head_offset << ", "
     << c.head_offset + c.NH << ") of " << c.n_heads_total
     << (c.bias == PositionBias::alibi ? " alibi" : " none");
  return os.str();
}

// Index into the interleaved qkv (B, T, NH, 3, HS); part 0 = q, 1 = k, 2 = v.
struct QkvIndex {
  int T, NH, HS;
  int64_t operator()(int b, int t, int h, int part, int d) const {
    return ((((int64_t)b * T + t) * NH + h) * 3 + part) * HS + d;
  }
};

struct Result {              // in double whatever the kernel's type, for comparison
  std::vector<double> out;   // (B, T, NH, HS)
  std::vector<double> lse;   // (B, NH, T)
  std::vector<double> dqkv;  // (B, T, NH, 3, HS)
};

// Naive attention in double: materialises each head's T x T probabilities.
Result reference(const Case& c, const std::vector<double>& qkv, const std::vector<double>& dout) {
  const int T = c.T, NH = c.NH, HS = c.HS;
  const QkvIndex at{T, NH, HS};
  const std::vector<double> slopes = paper_slopes(c.n_heads_total);
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  Result r;
  r.out.assign((size_t)c.B * T * NH * HS, 0.0);
  r.lse.assign((size_t)c.B * NH * T, 0.0);
  r.dqkv.assign(qkv.size(), 0.0);
  auto out_at = [&](int b, int t, int h, int d) { return (((int64_t)b * T + t) * NH + h) * HS + d; };
  for (int b = 0; b < c.B; ++b) {
    for (int h = 0; h < NH; ++h) {
      const double slope = c.bias == PositionBias::alibi ? slopes[c.head_offset + h] : 0.0;
      std::vector<double> P((size_t)T * T, 0.0);  // softmax probabilities, 0 above the diagonal
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(i + 1);
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int d = 0; d < HS; ++d) dot += qkv[at(b, i, h, 0, d)] * qkv[at(b, j, h, 1, d)];
          s[j] = dot * scale - slope * (i - j);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        r.lse[((int64_t)b * NH + h) * T + i] = mx + std::log(sum);
        for (int j = 0; j <= i; ++j) P[(size_t)i * T + j] = std::exp(s[j] - mx) / sum;
        for (int d = 0; d < HS; ++d) {
          double o = 0;
          for (int j = 0; j <= i; ++j) o += P[(size_t)i * T + j] * qkv[at(b, j, h, 2, d)];
          r.out[out_at(b, i, h, d)] = o;
        }
      }
      // Backward: dV = P^T dO; dP = dO V^T; dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik);
      // dQ = scale dS K; dK = scale dS^T Q.
      for (int i = 0; i < T; ++i) {
        std::vector<double> dP(i + 1);
        double row = 0;
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int d = 0; d < HS; ++d) dot += dout[out_at(b, i, h, d)] * qkv[at(b, j, h, 2, d)];
          dP[j] = dot;
          row += P[(size_t)i * T + j] * dot;
        }
        for (int j = 0; j <= i; ++j) {
          const double p = P[(size_t)i * T + j];
          const double dS = p * (dP[j] - row);
          for (int d = 0; d < HS; ++d) {
            r.dqkv[at(b, j, h, 2, d)] += p * dout[out_at(b, i, h, d)];
            r.dqkv[at(b, i, h, 0, d)] += scale * dS * qkv[at(b, j, h, 1, d)];
            r.dqkv[at(b, j, h, 1, d)] += scale * dS * qkv[at(b, i, h, 0, d)];
          }
        }
      }
    }
  }
  return r;
}

// ---- the kernel, as the layer calls it -------------------------------------------------------

template <class T>
Result run_kernel(const Case& c, const std::vector<double>& qkv64, const std::vector<double>& dout64) {
  const std::vector<T> qkv(qkv64.begin(), qkv64.end()), dout(dout64.begin(), dout64.end());
  // NaN-filled outputs: any element the kernel fails to write (`=` contract) shows up.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> out((size_t)c.B * c.T * c.NH * c.HS, nan), lse((size_t)c.B * c.NH * c.T, nan),
      dqkv(qkv.size(), nan);
  AttentionParams<T> p = fused_qkv_params<T>(qkv.data(), out.data(), lse.data(), c.B, c.T, c.NH, c.HS);
  p.head_offset = c.head_offset;
  p.n_heads_total = c.n_heads_total;
  p.bias = c.bias;
  cpu::attention_forward(p);
  cpu::attention_backward(p, dout.data(), dqkv.data(), dqkv.data() + c.HS, dqkv.data() + 2 * c.HS);
  return Result{{out.begin(), out.end()}, {lse.begin(), lse.end()}, {dqkv.begin(), dqkv.end()}};
}

// q and k in [-2, 2] so that scores spread over a few units (a peaked softmax, not a flat
// one); v and dout in [-1, 1].
void random_inputs(const Case& c, unsigned seed, std::vector<double>& qkv, std::vector<double>& dout) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const QkvIndex at{c.T, c.NH, c.HS};
  qkv.assign((size_t)c.B * c.T * c.NH * 3 * c.HS, 0.0);
  for (int b = 0; b < c.B; ++b)
    for (int t = 0; t < c.T; ++t)
      for (int h = 0; h < c.NH; ++h)
        for (int part = 0; part < 3; ++part)
          for (int d = 0; d < c.HS; ++d) qkv[at(b, t, h, part, d)] = (part < 2 ? 2.0 : 1.0) * uni(rng);
  dout.assign((size_t)c.B * c.T * c.NH * c.HS, 0.0);
  for (double& x : dout) x = uni(rng);
}

// Awkward sizes on purpose: T = 1, one below / at / above a tile of 64 (the kernel's; 130
// and 257 are one past multiples of 64 and 128 too), odd head counts (12 is not a power of
// two: its slopes interleave), a head size of 4, tensor-parallel shards, and T = 200 with
// slope 1/2, where far keys' weights fall below e^-64 and the float kernel flushes them.
// clang-format off
const std::vector<Case> kCases = {
    {1, 1, 1, 4, 0, 1, PositionBias::alibi},
    {2, 1, 3, 16, 0, 3, PositionBias::alibi},
    {1, 63, 8, 16, 0, 8, PositionBias::alibi},
    {2, 64, 3, 32, 0, 3, PositionBias::alibi},
    {1, 65, 12, 4, 0, 12, PositionBias::alibi},
    {2, 130, 1, 32, 0, 1, PositionBias::alibi},
    {1, 130, 12, 16, 0, 12, PositionBias::none},
    {2, 65, 8, 32, 0, 8, PositionBias::none},
    {2, 63, 3, 16, 3, 12, PositionBias::alibi},   // rank 1 of tp=4 over 12 heads
    {1, 130, 8, 4, 8, 16, PositionBias::alibi},   // rank 1 of tp=2 over 16 heads
    {2, 257, 1, 16, 11, 12, PositionBias::alibi}, // the last head alone
    {1, 200, 8, 16, 0, 8, PositionBias::alibi},
};
// clang-format on

template <class T>
void check_against_reference(double tol) {
  unsigned seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    std::vector<double> qkv, dout;
    random_inputs(c, seed++, qkv, dout);
    if constexpr (std::is_same_v<T, float>) {  // the reference sees exactly the float inputs
      for (double& x : qkv) x = static_cast<float>(x);
      for (double& x : dout) x = static_cast<float>(x);
    }
    const Result want = reference(c, qkv, dout);
    const Result got = run_kernel<T>(c, qkv, dout);
    expect_close_per_element("out", got.out, want.out, tol);
    expect_close_per_element("lse", got.lse, want.lse, tol);
    std::vector<double> dq, dk, dv, dq_want, dk_want, dv_want;  // split for clearer failures
    for (size_t i = 0; i < got.dqkv.size(); ++i) {
      const int part = static_cast<int>(i / c.HS % 3);
      (part == 0 ? dq : part == 1 ? dk : dv).push_back(got.dqkv[i]);
      (part == 0 ? dq_want : part == 1 ? dk_want : dv_want).push_back(want.dqkv[i]);
    }
    expect_close_per_element("dq", dq, dq_want, tol);
    expect_close_per_element("dk", dk, dk_want, tol);
    expect_close_per_element("dv", dv, dv_want, tol);
  }
}

// ---- tests -------------------------------------------------------------------------------------

// The reference's slopes come from the paper's recipe; make sure they are the ones the
// kernel gets from alibi.h, so a disagreement below is the kernel's and not the slopes'.
TEST(AttentionReference, PaperSlopesMatchClosedForm) {
  for (int n = 1; n <= 64; ++n) {
    const std::vector<double> s = paper_slopes(n);
    // 1e-14 relative: two roundings of pow against exp2 (DESIGN.md states this agreement).
    for (int h = 0; h < n; ++h) EXPECT_NEAR(alibi_slope(h, n), s[h], 1e-14 * s[h]) << "n=" << n << " h=" << h;
  }
  EXPECT_DOUBLE_EQ(paper_slopes(12)[8], std::pow(2.0, -0.5));  // the interleaved half of 12 heads
}

// Double: kernel and reference do the same sums in a different order (blocked GEMMs,
// online rescaling vs one-pass softmax); each step loses ~1e-16 relative, over <= 257
// terms of O(1..10) values that is at worst ~1e-13 (measured: 2e-15), so 1e-10 leaves
// room without hiding a bug (a wrong mask or bias is an O(1e-3..1) error).
TEST(Attention, MatchesReferenceDouble) { check_against_reference<double>(1e-10); }

// Float: the kernel's epsilon is 6e-8 and its exp is ~1 ulp; accumulated over <= 257-term
// sums and three chained products in the backward the error can reach a few 1e-6
// (measured: 5e-7) against the exact (double) answer for the same float inputs. 1e-4
// keeps a margin for other BLAS builds and summation orders.
TEST(Attention, MatchesReferenceFloat) { check_against_reference<float>(1e-4); }

// A tensor-parallel shard (heads [4, 8) of 12, as rank 1 of tp = 3 holds them) computes
// exactly its heads of the full computation: the slopes come from global head indices.
TEST(Attention, ShardEqualsItsHeadsOfTheFullComputation) {
  const Case full{2, 65, 12, 16, 0, 12, PositionBias::alibi};
  const Case shard{2, 65, 4, 16, 4, 12, PositionBias::alibi};
  std::vector<double> qkv, dout;
  random_inputs(full, 7, qkv, dout);
  const QkvIndex at_full{full.T, full.NH, full.HS}, at_shard{shard.T, shard.NH, shard.HS};
  std::vector<double> qkv_s((size_t)shard.B * shard.T * shard.NH * 3 * shard.HS), dout_s;
  for (int b = 0; b < full.B; ++b)
    for (int t = 0; t < full.T; ++t)
      for (int h = 0; h < shard.NH; ++h) {
        for (int part = 0; part < 3; ++part)
          for (int d = 0; d < full.HS; ++d)
            qkv_s[at_shard(b, t, h, part, d)] = qkv[at_full(b, t, shard.head_offset + h, part, d)];
        for (int d = 0; d < full.HS; ++d)
          dout_s.push_back(dout[(((int64_t)b * full.T + t) * full.NH + shard.head_offset + h) * full.HS + d]);
      }
  const Result f = run_kernel<double>(full, qkv, dout);
  const Result s = run_kernel<double>(shard, qkv_s, dout_s);
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
  const Result wrong = run_kernel<double>(Case{2, 65, 4, 16, 0, 4, PositionBias::alibi}, qkv_s, dout_s);
  double diff = 0;
  for (size_t i = 0; i < wrong.out.size(); ++i) diff = std::max(diff, std::abs(wrong.out[i] - s.out[i]));
  EXPECT_GT(diff, 1e-3);
}

// The backward against central differences of loss = sum(out * R), R = dout: dL/dqkv is
// what the backward returns for dout = R.
TEST(Attention, BackwardMatchesFiniteDifferences) {
  const Case c{1, 6, 2, 4, 1, 3, PositionBias::alibi};
  std::vector<double> qkv, R;
  random_inputs(c, 11, qkv, R);
  const Result analytic = run_kernel<double>(c, qkv, R);
  auto loss = [&](const std::vector<double>& x) {
    const Result r = run_kernel<double>(c, x, R);
    double l = 0;
    for (size_t i = 0; i < R.size(); ++i) l += r.out[i] * R[i];
    return l;
  };
  // eps = 1e-5: truncation error ~eps^2 |L'''| ~ 1e-10, rounding ~1e-16 |L| / eps ~ 1e-11;
  // 1e-7 is far above both and far below a wrong term (O(1e-2) or more).
  const double eps = 1e-5;
  for (size_t i = 0; i < qkv.size(); ++i) {
    std::vector<double> x = qkv;
    x[i] = qkv[i] + eps;
    const double up = loss(x);
    x[i] = qkv[i] - eps;
    const double down = loss(x);
    EXPECT_NEAR(analytic.dqkv[i], (up - down) / (2 * eps), 1e-7) << "element " << i;
  }
}

// No T x T buffer: at T = 2048 a score matrix would be 16 MB in float. The kernel's working
// memory is O(tile^2 + tile * HS + T) per thread (measured: 57 KB per thread here), so the
// peak growth through the allocator must stay under a bound linear in T, threads x 64 T
// floats (512 KB per thread, 1/32 of T^2 floats), and doubling T at most doubles it (a T^2
// term would quadruple it).
TEST(Attention, MemoryIsLinearInT) {
  auto peak_growth = [](int T) {
    const int B = 1, NH = 2, HS = 16;
    Tensor qkv = Tensor::zeros({B, T, NH, 3, HS}, DType::f32),
           dqkv = Tensor::empty({B, T, NH, 3, HS}, DType::f32);
    Tensor out = Tensor::empty({B, T, NH, HS}, DType::f32), dout = Tensor::zeros({B, T, NH, HS}, DType::f32);
    Tensor lse = Tensor::empty({B, NH, T}, DType::f32);
    float* x = qkv.data<float>();
    for (int64_t i = 0; i < qkv.numel(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i));
    AttentionParams<float> p;
    p.q = x;
    p.k = x + HS;
    p.v = x + 2 * HS;
    p.head_stride = 3 * HS;
    p.row_stride = 3 * NH * HS;
    p.batch_stride = T * p.row_stride;
    p.out = out.data<float>();
    p.lse = lse.data<float>();
    p.B = B;
    p.T = T;
    p.NH = NH;
    p.HS = HS;
    p.head_offset = 0;
    p.n_heads_total = NH;
    CpuAllocator& alloc = CpuAllocator::instance();
    alloc.reset_peak();
    const size_t before = alloc.stats().bytes_in_use;
    cpu::attention_forward(p);
    float* d = dqkv.data<float>();
    cpu::attention_backward(p, dout.data<float>(), d, d + HS, d + 2 * HS);
    return alloc.stats().peak_bytes - before;
  };
  const int T = 2048;
  const size_t grown = peak_growth(T);
  const size_t bound = static_cast<size_t>(omp_get_max_threads()) * 64 * T * sizeof(float);
  EXPECT_LT(grown, bound) << "peak grew by " << grown << " bytes; T x T floats would be "
                          << (size_t)T * T * sizeof(float);
  EXPECT_LE(grown, 2 * peak_growth(T / 2)) << "working memory grows faster than linearly in T";
}

TEST(Attention, RejectsLocalHeadCountAsGlobal) {
  std::vector<float> buf(3 * 4 * 8, 0.0f), out(4 * 8), lse(4);
  AttentionParams<float> p;
  p.q = buf.data();
  p.k = buf.data() + 8;
  p.v = buf.data() + 16;
  p.head_stride = 24;
  p.row_stride = 24;
  p.batch_stride = 4 * 24;
  p.out = out.data();
  p.lse = lse.data();
  p.B = 1;
  p.T = 4;
  p.NH = 1;
  p.HS = 8;
  p.head_offset = 2;    // a shard's first head ...
  p.n_heads_total = 1;  // ... but the local count passed as the global one
  EXPECT_THROW(cpu::attention_forward(p), ShapeError);
  p.n_heads_total = 4;
  EXPECT_NO_THROW(cpu::attention_forward(p));
}

}  // namespace
}  // namespace alibi
