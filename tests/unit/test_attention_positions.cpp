// Rotary and T5 relative bias inside the CPU attention kernel (kernels/cpu/attention.cpp,
// element math in kernels/positions.h) against a naive reference written here from the
// papers' descriptions: q and k rotated explicitly in HF's rotate_half form, T5 buckets
// re-implemented from _relative_position_bucket, full T x T scores, causal softmax and the
// backward of each step, including the T5 table's gradient. Also finite differences, the
// table gradient's independence of the thread count, and memory staying linear in T.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "kernels/positions.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "runtime/tensor.h"
#include "tests/compare.h"

namespace alibi {
namespace {

using test::expect_close_per_element;

// ---- the reference ---------------------------------------------------------------------------

// T5's _relative_position_bucket(relative_position = -(i - j), bidirectional=False),
// transcribed: n = max(-relative_position, 0); half the buckets exact, the rest
// logarithmic up to max_distance, clamped to the last.
int ref_t5_bucket(int n, int num_buckets, int max_distance) {
  const int max_exact = num_buckets / 2;
  if (n < max_exact) return n;
  const double frac = std::log(static_cast<double>(n) / max_exact) / std::log(static_cast<double>(max_distance) / max_exact);
  const int val_if_large = max_exact + static_cast<int>(frac * (num_buckets - max_exact));  // truncation
  return std::min(val_if_large, num_buckets - 1);
}

struct Case {
  int B, T, NH, HS;
  PositionBias bias;
  double rope_base = 10000;
  int t5_buckets = 32;
  int t5_max_distance = 128;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "B=" << c.B << " T=" << c.T << " NH=" << c.NH << " HS=" << c.HS;
  if (c.bias == PositionBias::rotary) os << " rotary base " << c.rope_base;
  if (c.bias == PositionBias::t5) os << " t5 " << c.t5_buckets << " buckets, max distance " << c.t5_max_distance;
  return os.str();
}

// Index into the interleaved qkv (B, T, NH, 3, HS); part 0 = q, 1 = k, 2 = v.
struct QkvIndex {
  int T, NH, HS;
  int64_t operator()(int b, int t, int h, int part, int d) const {
    return ((((int64_t)b * T + t) * NH + h) * 3 + part) * HS + d;
  }
};

struct Inputs {
  std::vector<double> qkv;    // (B, T, NH, 3, HS)
  std::vector<double> dout;   // (B, T, NH, HS)
  std::vector<double> table;  // (t5_buckets, NH); empty unless t5
};

struct Result {                // in double whatever the kernel's type, for comparison
  std::vector<double> out;     // (B, T, NH, HS)
  std::vector<double> lse;     // (B, NH, T)
  std::vector<double> dqkv;    // (B, T, NH, 3, HS)
  std::vector<double> dtable;  // (t5_buckets, NH)
};

// HF's apply_rotary_pos_emb on one head vector at position t: x * cos + rotate_half(x) * sin,
// with cos and sin repeated over both halves and rotate_half(x) = (-x2, x1). inverse = true
// applies the transpose, the chain rule's way back: g * cos + rotate_half^T(g * sin), where
// rotate_half^T(y) = (y2, -y1) (sin being the same in both halves, it can go outside).
std::vector<double> hf_rotate(const std::vector<double>& x, int t, double base, bool inverse) {
  const int HS = static_cast<int>(x.size()), half = HS / 2;
  std::vector<double> y(HS);
  for (int d = 0; d < HS; ++d) {
    const double inv_freq = 1.0 / std::pow(base, static_cast<double>(2 * (d % half)) / HS);
    const double rotated_half = d < half ? -x[d + half] : x[d - half];
    y[d] = x[d] * std::cos(t * inv_freq) + (inverse ? -rotated_half : rotated_half) * std::sin(t * inv_freq);
  }
  return y;
}

// Naive attention in double: materialises each head's T x T probabilities.
Result reference(const Case& c, const Inputs& in) {
  const int T = c.T, NH = c.NH, HS = c.HS;
  const QkvIndex at{T, NH, HS};
  const bool rotary = c.bias == PositionBias::rotary, t5 = c.bias == PositionBias::t5;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  Result r;
  r.out.assign((size_t)c.B * T * NH * HS, 0.0);
  r.lse.assign((size_t)c.B * NH * T, 0.0);
  r.dqkv.assign(in.qkv.size(), 0.0);
  r.dtable.assign(in.table.size(), 0.0);
  auto out_at = [&](int b, int t, int h, int d) { return (((int64_t)b * T + t) * NH + h) * HS + d; };
  for (int b = 0; b < c.B; ++b) {
    for (int h = 0; h < NH; ++h) {
      // The head's q and k, rotated when rotary: Q[t][d], K[t][d].
      std::vector<std::vector<double>> Q(T, std::vector<double>(HS)), K = Q, V = Q;
      for (int t = 0; t < T; ++t) {
        for (int d = 0; d < HS; ++d) {
          Q[t][d] = in.qkv[at(b, t, h, 0, d)];
          K[t][d] = in.qkv[at(b, t, h, 1, d)];
          V[t][d] = in.qkv[at(b, t, h, 2, d)];
        }
        if (rotary) {
          Q[t] = hf_rotate(Q[t], t, c.rope_base, false);
          K[t] = hf_rotate(K[t], t, c.rope_base, false);
        }
      }
      auto bias = [&](int i, int j) {
        return t5 ? in.table[(size_t)ref_t5_bucket(i - j, c.t5_buckets, c.t5_max_distance) * NH + h] : 0.0;
      };
      std::vector<double> P((size_t)T * T, 0.0);  // softmax probabilities, 0 above the diagonal
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(i + 1);
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int d = 0; d < HS; ++d) dot += Q[i][d] * K[j][d];
          s[j] = dot * scale + bias(i, j);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        r.lse[((int64_t)b * NH + h) * T + i] = mx + std::log(sum);
        for (int j = 0; j <= i; ++j) P[(size_t)i * T + j] = std::exp(s[j] - mx) / sum;
        for (int d = 0; d < HS; ++d) {
          double o = 0;
          for (int j = 0; j <= i; ++j) o += P[(size_t)i * T + j] * V[j][d];
          r.out[out_at(b, i, h, d)] = o;
        }
      }
      // Backward: dV = P^T dO; dP = dO V^T; dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik);
      // dQ = scale dS K; dK = scale dS^T Q (of the rotated Q, K); dbias(i, j) = dS_ij.
      std::vector<std::vector<double>> dQ(T, std::vector<double>(HS, 0.0)), dK = dQ;
      for (int i = 0; i < T; ++i) {
        std::vector<double> dP(i + 1);
        double row = 0;
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int d = 0; d < HS; ++d) dot += in.dout[out_at(b, i, h, d)] * V[j][d];
          dP[j] = dot;
          row += P[(size_t)i * T + j] * dot;
        }
        for (int j = 0; j <= i; ++j) {
          const double p = P[(size_t)i * T + j];
          const double dS = p * (dP[j] - row);
          for (int d = 0; d < HS; ++d) {
            r.dqkv[at(b, j, h, 2, d)] += p * in.dout[out_at(b, i, h, d)];
            dQ[i][d] += scale * dS * K[j][d];
            dK[j][d] += scale * dS * Q[i][d];
          }
          if (t5) r.dtable[(size_t)ref_t5_bucket(i - j, c.t5_buckets, c.t5_max_distance) * NH + h] += dS;
        }
      }
      for (int t = 0; t < T; ++t) {  // back through the rotation
        if (rotary) {
          dQ[t] = hf_rotate(dQ[t], t, c.rope_base, true);
          dK[t] = hf_rotate(dK[t], t, c.rope_base, true);
        }
        for (int d = 0; d < HS; ++d) {
          r.dqkv[at(b, t, h, 0, d)] = dQ[t][d];
          r.dqkv[at(b, t, h, 1, d)] = dK[t][d];
        }
      }
    }
  }
  return r;
}

// ---- the kernel, as the layer calls it -------------------------------------------------------

// The table gradient starts at `dtable0` (the kernel adds into it) and comes back with it
// subtracted, so the result is comparable with the reference's.
constexpr double kTableGradStart = 0.25;

template <class T>
Result run_kernel(const Case& c, const Inputs& in) {
  const std::vector<T> qkv(in.qkv.begin(), in.qkv.end()), dout(in.dout.begin(), in.dout.end()),
      table(in.table.begin(), in.table.end());
  // NaN-filled outputs: any element the kernel fails to write (`=` contract) shows up.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> out((size_t)c.B * c.T * c.NH * c.HS, nan), lse((size_t)c.B * c.NH * c.T, nan),
      dqkv(qkv.size(), nan), dtable(table.size(), static_cast<T>(kTableGradStart));
  AttentionParams<T> p;
  p.q = qkv.data();
  p.k = qkv.data() + c.HS;
  p.v = qkv.data() + 2 * c.HS;
  p.head_stride = 3 * c.HS;
  p.row_stride = 3 * c.NH * c.HS;
  p.batch_stride = c.T * p.row_stride;
  p.out = out.data();
  p.lse = lse.data();
  p.B = c.B;
  p.T = c.T;
  p.NH = c.NH;
  p.HS = c.HS;
  p.bias = c.bias;  // head_offset / n_heads_total left unset: only ALiBi reads them
  p.rope_base = c.rope_base;
  p.t5_buckets = c.t5_buckets;
  p.t5_max_distance = c.t5_max_distance;
  if (c.bias == PositionBias::t5) {
    p.t5_table = table.data();
    p.t5_table_grad = dtable.data();
  }
  cpu::attention_forward(p);
  cpu::attention_backward(p, dout.data(), dqkv.data(), dqkv.data() + c.HS, dqkv.data() + 2 * c.HS);
  Result r{{out.begin(), out.end()}, {lse.begin(), lse.end()}, {dqkv.begin(), dqkv.end()}, {}};
  for (T g : dtable) r.dtable.push_back(static_cast<double>(g) - kTableGradStart);
  return r;
}

// q and k in [-2, 2] so that scores spread over a few units (a peaked softmax, not a flat
// one); v and dout in [-1, 1]; the T5 table in [-2, 2] so that the bias moves the weights
// as much as the content does.
Inputs random_inputs(const Case& c, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const QkvIndex at{c.T, c.NH, c.HS};
  Inputs in;
  in.qkv.assign((size_t)c.B * c.T * c.NH * 3 * c.HS, 0.0);
  for (int b = 0; b < c.B; ++b)
    for (int t = 0; t < c.T; ++t)
      for (int h = 0; h < c.NH; ++h)
        for (int part = 0; part < 3; ++part)
          for (int d = 0; d < c.HS; ++d) in.qkv[at(b, t, h, part, d)] = (part < 2 ? 2.0 : 1.0) * uni(rng);
  in.dout.assign((size_t)c.B * c.T * c.NH * c.HS, 0.0);
  for (double& x : in.dout) x = uni(rng);
  if (c.bias == PositionBias::t5) {
    in.table.assign((size_t)c.t5_buckets * c.NH, 0.0);
    for (double& x : in.table) x = 2.0 * uni(rng);
  }
  return in;
}

// T not a multiple of the kernel's 64-row tiles (63, 65, 130) and T = 1; NH 1, 3, 12; HS 4,
// 16, 32. T5 at its defaults reaches the clamped last bucket at T = 130 (distances 128,
// 129); with 8 buckets and max distance 20 most of the distances are clamped.
// clang-format off
const std::vector<Case> kCases = {
    {2, 63, 3, 16, PositionBias::rotary},
    {2, 65, 12, 4, PositionBias::rotary},
    {2, 130, 1, 32, PositionBias::rotary},
    {2, 1, 3, 4, PositionBias::rotary},
    {2, 130, 3, 16, PositionBias::rotary, 500.0},
    {2, 63, 1, 32, PositionBias::t5},
    {2, 65, 3, 16, PositionBias::t5},
    {2, 130, 12, 4, PositionBias::t5},
    {2, 1, 1, 4, PositionBias::t5},
    {2, 130, 3, 16, PositionBias::t5, 10000, 8, 20},
};
// clang-format on

template <class T>
void check_against_reference(double tol) {
  unsigned seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    Inputs in = random_inputs(c, seed++);
    if constexpr (std::is_same_v<T, float>) {  // the reference sees exactly the float inputs
      for (std::vector<double>* v : {&in.qkv, &in.dout, &in.table})
        for (double& x : *v) x = static_cast<float>(x);
    }
    const Result want = reference(c, in);
    const Result got = run_kernel<T>(c, in);
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
    expect_close_per_element("dtable", got.dtable, want.dtable, tol);
  }
}

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
TEST(AttentionPositions, MatchesReferenceDouble) { check_against_reference<double>(1e-10); }

// Float: the kernel's epsilon is 6e-8 and its exp ~1 ulp; the rotation adds a rounding of
// cos/sin to float and two of its own per element; sums run over <= 130 terms and the
// backward chains three products, so a few 1e-6 against the exact (double) answer for the
// same float inputs is expected (measured: 4e-7 on dv, 9e-7 on the table gradient, which
// sums up to B T^2 / 2 float dS per bucket, in double, so their ~1e-7 errors add but do not
// compound). 1e-4 keeps a margin for other BLAS builds and summation orders.
TEST(AttentionPositions, MatchesReferenceFloat) { check_against_reference<float>(1e-4); }

// loss = sum(out * R): central differences of it against what the backward returns for
// dout = R, for every q and k element under rotary and every table entry under T5 (with 4
// buckets and max distance 6 at T = 9, so exact, logarithmic and clamped buckets all occur).
// eps = 1e-5: truncation ~eps^2 |L'''| ~ 1e-10, rounding ~1e-16 |L| / eps ~ 1e-11; 1e-7 is
// far above both and far below a wrong term (O(1e-2) or more).
template <class Perturb>
void expect_matches_finite_differences(const Case& c, const Inputs& in, size_t n, Perturb perturb,
                                       const std::vector<double>& analytic, const char* what) {
  auto loss = [&](const Inputs& x) {
    const Result r = run_kernel<double>(c, x);
    double l = 0;
    for (size_t i = 0; i < in.dout.size(); ++i) l += r.out[i] * in.dout[i];
    return l;
  };
  const double eps = 1e-5;
  for (size_t i = 0; i < n; ++i) {
    Inputs x = in;
    perturb(x, i, eps);
    const double up = loss(x);
    x = in;
    perturb(x, i, -eps);
    const double down = loss(x);
    EXPECT_NEAR(analytic[i], (up - down) / (2 * eps), 1e-7) << what << " element " << i;
  }
}

TEST(AttentionPositions, RotaryBackwardMatchesFiniteDifferences) {
  const Case c{2, 7, 2, 4, PositionBias::rotary, 10.0};  // base 10: large angles at small t
  const Inputs in = random_inputs(c, 11);
  const Result r = run_kernel<double>(c, in);
  expect_matches_finite_differences(
      c, in, in.qkv.size(), [](Inputs& x, size_t i, double e) { x.qkv[i] += e; }, r.dqkv, "dqkv");
}

TEST(AttentionPositions, T5TableGradientMatchesFiniteDifferences) {
  const Case c{2, 9, 2, 4, PositionBias::t5, 10000, 4, 6};
  const Inputs in = random_inputs(c, 12);
  const Result r = run_kernel<double>(c, in);
  expect_matches_finite_differences(
      c, in, in.table.size(), [](Inputs& x, size_t i, double e) { x.table[i] += e; }, r.dtable, "dtable");
  expect_matches_finite_differences(
      c, in, in.qkv.size(), [](Inputs& x, size_t i, double e) { x.qkv[i] += e; }, r.dqkv, "dqkv");
}

// The table gradient is summed per (b, h), then over (b, h) in a fixed order: bitwise the
// same whatever the thread count (so are dq, dk, dv: one (b, h) is one thread's work).
TEST(AttentionPositions, T5GradientIndependentOfThreadCount) {
  const Case c{2, 130, 3, 16, PositionBias::t5};
  const Inputs in = random_inputs(c, 13);
  const int saved = omp_get_max_threads();
  std::vector<Result> runs;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    runs.push_back(run_kernel<float>(c, in));
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
  auto peak_growth = [](PositionBias bias, int T) {
    const int B = 1, NH = 2, HS = 16, n_buckets = 32;
    Tensor qkv = Tensor::zeros({B, T, NH, 3, HS}, DType::f32),
           dqkv = Tensor::empty({B, T, NH, 3, HS}, DType::f32);
    Tensor out = Tensor::empty({B, T, NH, HS}, DType::f32), dout = Tensor::zeros({B, T, NH, HS}, DType::f32);
    Tensor lse = Tensor::empty({B, NH, T}, DType::f32);
    Tensor table = Tensor::zeros({n_buckets, NH}, DType::f32), dtable = Tensor::zeros({n_buckets, NH}, DType::f32);
    float* x = qkv.data<float>();
    for (int64_t i = 0; i < qkv.numel(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i));
    AttentionParams<float> p = fused_qkv_params<float>(x, out.data<float>(), lse.data<float>(), B, T, NH, HS);
    p.bias = bias;
    p.t5_table = table.data<float>();
    p.t5_table_grad = dtable.data<float>();
    CpuAllocator& alloc = CpuAllocator::instance();
    alloc.reset_peak();
    const size_t before = alloc.stats().bytes_in_use;
    cpu::attention_forward(p);
    float* d = dqkv.data<float>();
    cpu::attention_backward(p, dout.data<float>(), d, d + HS, d + 2 * HS);
    const size_t per_thread = (64 + 3 * HS) * (size_t)T * sizeof(float);
    const size_t per_call = (HS + NH + 1) * (size_t)T * sizeof(float) + 4096;
    return std::pair<size_t, size_t>(alloc.stats().peak_bytes - before,
                                     omp_get_max_threads() * per_thread + per_call);
  };
  const int T = 2048;
  for (PositionBias bias : {PositionBias::rotary, PositionBias::t5}) {
    SCOPED_TRACE(bias == PositionBias::rotary ? "rotary" : "t5");
    const auto [grown, bound] = peak_growth(bias, T);
    EXPECT_LT(grown, bound) << "peak grew by " << grown << " bytes; T x T floats would be "
                            << (size_t)T * T * sizeof(float);
    EXPECT_LE(grown, 2 * peak_growth(bias, T / 2).first) << "working memory grows faster than linearly in T";
  }
}

TEST(AttentionPositions, RejectsBadSettings) {
  std::vector<float> buf(3 * 4 * 6, 0.0f), dbuf(buf.size()), out(4 * 6), lse(4), table(32), dtable(32);
  AttentionParams<float> p;  // one head of size 6 at T = 4 in a fused qkv
  p.q = buf.data();
  p.k = buf.data() + 6;
  p.v = buf.data() + 12;
  p.head_stride = p.row_stride = 18;
  p.batch_stride = 4 * 18;
  p.out = out.data();
  p.lse = lse.data();
  p.B = 1;
  p.T = 4;
  p.NH = 1;
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
