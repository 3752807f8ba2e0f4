// The naive attention and the helpers of tests/unit/attention_reference.h.
#include "tests/unit/attention_reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "runtime/allocator.h"
#include "runtime/tensor.h"
#include "tests/compare.h"
#include "tests/unit/paper_slopes.h"

namespace alibi::test {

std::string describe(const AttentionCase& c) {
  std::ostringstream os;
  os << "B=" << c.B << " T=" << c.T << " NH=" << c.NH << " HS=" << c.HS << " " << position_bias_name(c.bias);
  if (c.bias == PositionBias::alibi)
    os << " heads [" << c.head_offset << ", " << c.head_offset + c.NH << ") of " << c.n_heads_total;
  if (c.bias == PositionBias::rotary) os << " base " << c.rope_base;
  if (c.bias == PositionBias::t5) os << " " << c.t5_buckets << " buckets, max distance " << c.t5_max_distance;
  return os.str();
}

AttentionInputs random_attention_inputs(const AttentionCase& c, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const QkvIndex at{c.T, c.NH, c.HS};
  AttentionInputs in;
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

// ---- the reference ---------------------------------------------------------------------------

int ref_t5_bucket(int n, int num_buckets, int max_distance) {
  const int max_exact = num_buckets / 2;
  if (n < max_exact) return n;
  const double frac = std::log(static_cast<double>(n) / max_exact) / std::log(static_cast<double>(max_distance) / max_exact);
  const int val_if_large = max_exact + static_cast<int>(frac * (num_buckets - max_exact));  // truncation
  return std::min(val_if_large, num_buckets - 1);
}

namespace {

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

}  // namespace

AttentionResult naive_attention(const AttentionCase& c, const AttentionInputs& in) {
  const int T = c.T, NH = c.NH, HS = c.HS;
  const QkvIndex at{T, NH, HS};
  const bool rotary = c.bias == PositionBias::rotary, t5 = c.bias == PositionBias::t5;
  const std::vector<double> slopes =
      c.bias == PositionBias::alibi ? paper_slopes(c.n_heads_total) : std::vector<double>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  AttentionResult r;
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
      auto t5_entry = [&](int i, int j) {
        return (size_t)ref_t5_bucket(i - j, c.t5_buckets, c.t5_max_distance) * NH + h;
      };
      auto bias = [&](int i, int j) {
        if (c.bias == PositionBias::alibi) return -slopes[c.head_offset + h] * (i - j);
        return t5 ? in.table[t5_entry(i, j)] : 0.0;
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
          if (t5) r.dtable[t5_entry(i, j)] += dS;
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

// The table gradient starts here (the kernel adds into it) and comes back with it
// subtracted.
constexpr double kTableGradStart = 0.25;

template <class T>
AttentionResult run_cpu_attention(const AttentionCase& c, const AttentionInputs& in) {
  const std::vector<T> qkv(in.qkv.begin(), in.qkv.end()), dout(in.dout.begin(), in.dout.end()),
      table(in.table.begin(), in.table.end());
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> out((size_t)c.B * c.T * c.NH * c.HS, nan), lse((size_t)c.B * c.NH * c.T, nan),
      dqkv(qkv.size(), nan), dtable(table.size(), static_cast<T>(kTableGradStart));
  AttentionParams<T> p = fused_qkv_params<T>(qkv.data(), out.data(), lse.data(), c.B, c.T, c.NH, c.HS);
  p.head_offset = c.head_offset;
  p.n_heads_total = c.n_heads_total;
  p.bias = c.bias;
  p.rope_base = c.rope_base;
  p.t5_buckets = c.t5_buckets;
  p.t5_max_distance = c.t5_max_distance;
  if (c.bias == PositionBias::t5) {
    p.t5_table = table.data();
    p.t5_table_grad = dtable.data();
  }
  cpu::attention_forward(p);
  cpu::attention_backward(p, dout.data(), dqkv.data(), dqkv.data() + c.HS, dqkv.data() + 2 * c.HS);
  AttentionResult r{{out.begin(), out.end()}, {lse.begin(), lse.end()}, {dqkv.begin(), dqkv.end()}, {}};
  for (T g : dtable) r.dtable.push_back(static_cast<double>(g) - kTableGradStart);
  return r;
}

template AttentionResult run_cpu_attention<float>(const AttentionCase&, const AttentionInputs&);
template AttentionResult run_cpu_attention<double>(const AttentionCase&, const AttentionInputs&);

// ---- checks ----------------------------------------------------------------------------------

void expect_attention_close(const AttentionResult& got, const AttentionResult& want, int HS, double tol) {
  expect_close_per_element("out", got.out, want.out, tol);
  expect_close_per_element("lse", got.lse, want.lse, tol);
  ASSERT_EQ(got.dqkv.size(), want.dqkv.size()) << "dqkv";
  std::vector<double> dq, dk, dv, dq_want, dk_want, dv_want;
  for (size_t i = 0; i < got.dqkv.size(); ++i) {
    const int part = static_cast<int>(i / HS % 3);
    (part == 0 ? dq : part == 1 ? dk : dv).push_back(got.dqkv[i]);
    (part == 0 ? dq_want : part == 1 ? dk_want : dv_want).push_back(want.dqkv[i]);
  }
  expect_close_per_element("dq", dq, dq_want, tol);
  expect_close_per_element("dk", dk, dk_want, tol);
  expect_close_per_element("dv", dv, dv_want, tol);
  expect_close_per_element("dtable", got.dtable, want.dtable, tol);
}

template <class T>
void expect_cpu_attention_matches_naive(const std::vector<AttentionCase>& cases, double tol) {
  unsigned seed = 1;
  for (const AttentionCase& c : cases) {
    SCOPED_TRACE(describe(c));
    AttentionInputs in = random_attention_inputs(c, seed++);
    for (std::vector<double>* v : {&in.qkv, &in.dout, &in.table})
      for (double& x : *v) x = static_cast<T>(x);
    expect_attention_close(run_cpu_attention<T>(c, in), naive_attention(c, in), c.HS, tol);
  }
}

template void expect_cpu_attention_matches_naive<float>(const std::vector<AttentionCase>&, double);
template void expect_cpu_attention_matches_naive<double>(const std::vector<AttentionCase>&, double);

void expect_attention_matches_finite_differences(const AttentionCase& c, const AttentionInputs& in, size_t n,
                                                 const std::function<void(AttentionInputs&, size_t, double)>& perturb,
                                                 const std::vector<double>& analytic, const std::string& what) {
  auto loss = [&](const AttentionInputs& x) {
    const AttentionResult r = run_cpu_attention<double>(c, x);
    double l = 0;
    for (size_t i = 0; i < in.dout.size(); ++i) l += r.out[i] * in.dout[i];
    return l;
  };
  const double eps = 1e-5;
  for (size_t i = 0; i < n; ++i) {
    AttentionInputs x = in;
    perturb(x, i, eps);
    const double up = loss(x);
    x = in;
    perturb(x, i, -eps);
    const double down = loss(x);
    EXPECT_NEAR(analytic[i], (up - down) / (2 * eps), 1e-7) << what << " element " << i;
  }
}

// ---- memory ----------------------------------------------------------------------------------

size_t attention_peak_growth(PositionBias bias, int T) {
  const int B = 1, NH = kPeakGrowthNH, HS = kPeakGrowthHS, n_buckets = 32;
  Tensor qkv = Tensor::zeros({B, T, NH, 3, HS}, DType::f32), dqkv = Tensor::empty({B, T, NH, 3, HS}, DType::f32);
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
  return alloc.stats().peak_bytes - before;
}

}  // namespace alibi::test
