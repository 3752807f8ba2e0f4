// The CPU's GEMMs (kernels/blas.h) against a naive double product, in every layout the
// model uses (either operand transposed, leading dimensions wider than the matrix, alpha
// and beta), for the fp32 library this build chose (ALIBI_GEMM) and for bf16 operands
// (oneDNN): a bf16 product must equal the exact product of the bf16-rounded operands up to
// fp32 accumulation, and must NOT equal the unrounded product (else nothing was rounded).
// Then --matmul-precision as the linear layers and Model::to_device see it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blas.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "runtime/error.h"
#include "runtime/gguf.h"
#include "tests/compare.h"

namespace alibi {
namespace {

using test::expect_close_per_element;

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k, pad;  // pad: extra columns in every stored row (lda, ldb, ldc)
  float alpha, beta;
};

std::string name(const GemmCase& c) {
  return std::string(c.ta ? "T" : "N") + (c.tb ? "T" : "N") + " " + std::to_string(c.m) + "x" + std::to_string(c.n) +
         "x" + std::to_string(c.k) + " pad " + std::to_string(c.pad) + " alpha " + std::to_string(c.alpha) +
         " beta " + std::to_string(c.beta);
}

std::vector<GemmCase> cases() {
  std::vector<GemmCase> all;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      all.push_back({ta, tb, 7, 13, 5, 0, 1.0f, 0.0f});
      all.push_back({ta, tb, 64, 96, 130, 3, 1.0f, 1.0f});  // += (parameter gradients)
      all.push_back({ta, tb, 33, 70, 257, 1, 0.5f, 0.25f});
    }
  return all;
}

float round_bf16(float x) { return gguf::from_bf16(gguf::to_bf16(x)); }

struct Operands {
  std::vector<float> a, b, c;  // as stored, with padding
  int64_t lda, ldb, ldc;
};

Operands make(const GemmCase& g, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Operands o;
  const int64_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
  const int64_t b_rows = g.tb ? g.n : g.k, b_cols = g.tb ? g.k : g.n;
  o.lda = a_cols + g.pad;
  o.ldb = b_cols + g.pad;
  o.ldc = g.n + g.pad;
  o.a.resize(a_rows * o.lda);
  o.b.resize(b_rows * o.ldb);
  o.c.resize(g.m * o.ldc);
  for (float& v : o.a) v = u(gen);
  for (float& v : o.b) v = u(gen);
  for (float& v : o.c) v = u(gen);
  return o;
}

// alpha op(A) op(B) + beta C in double, over the logical m x n block (padding copied).
std::vector<double> naive(const GemmCase& g, const Operands& o, float (*operand)(float)) {
  std::vector<double> out(o.c.begin(), o.c.end());
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const float a = g.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p];
        const float b = g.tb ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j];
        s += static_cast<double>(operand(a)) * operand(b);
      }
      out[i * o.ldc + j] = g.alpha * s + static_cast<double>(g.beta) * o.c[i * o.ldc + j];
    }
  return out;
}

float exact(float x) { return x; }

// fp32 accumulation of at most 257 products of magnitude <= 1: well below 1e-5 (1 + |y|).
constexpr double kTol = 1e-5;

TEST(Gemm, Fp32MatchesNaiveInEveryLayout) {
  for (const GemmCase& g : cases()) {
    Operands o = make(g, 1);
    const std::vector<double> want = naive(g, o, exact);
    cpu::gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, o.a.data(), o.lda, o.b.data(), o.ldb, g.beta, o.c.data(), o.ldc);
    expect_close_per_element(std::string(cpu::gemm_library()) + " " + name(g), o.c, want, kTol);
  }
}

TEST(Gemm, Bf16IsTheProductOfRoundedOperands) {
  if (!cpu::gemm_bf16_available()) GTEST_SKIP() << "this build's GEMM is " << cpu::gemm_library() << " (no bf16)";
  for (const GemmCase& g : cases()) {
    Operands o = make(g, 2);
    const std::vector<double> want = naive(g, o, round_bf16), unrounded = naive(g, o, exact);
    cpu::gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, g.alpha, o.a.data(), o.lda, o.b.data(), o.ldb, g.beta, o.c.data(),
                   o.ldc);
    expect_close_per_element("bf16 " + name(g), o.c, want, kTol);
    // bf16 keeps 8 significant bits: products of unrounded operands differ by ~1e-3.
    double largest = 0;
    for (size_t i = 0; i < o.c.size(); ++i) largest = std::max(largest, std::abs(o.c[i] - unrounded[i]));
    EXPECT_GT(largest, 1e-4) << name(g) << ": the bf16 product equals the fp32 one; operands were not rounded";
  }
}

// An operand given in bf16 already (a weight's working copy, an activation kept in bf16, a
// gradient rounded once for two products: to_bf16 of the stored matrix, padding and all) must
// give the very bits of gemm_bf16 on the fp32 matrix: the same rounding, the same product. A
// alone, B alone, and both.
TEST(Gemm, Bf16WithBf16OperandIsTheSameBits) {
  if (!cpu::gemm_bf16_available()) GTEST_SKIP() << "this build's GEMM is " << cpu::gemm_library() << " (no bf16)";
  for (const GemmCase& g : cases()) {
    Operands o = make(g, 4);
    std::vector<uint16_t> a16(o.a.size()), b16(o.b.size());
    cpu::to_bf16(a16.data(), o.a.data(), static_cast<int64_t>(o.a.size()));
    cpu::to_bf16(b16.data(), o.b.data(), static_cast<int64_t>(o.b.size()));
    const std::vector<float> c0 = o.c;
    cpu::gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, g.alpha, o.a.data(), o.lda, o.b.data(), o.ldb, g.beta, o.c.data(),
                   o.ldc);
    const cpu::Bf16Operand as[3] = {a16.data(), o.a.data(), a16.data()};
    const cpu::Bf16Operand bs[3] = {o.b.data(), b16.data(), b16.data()};
    const char* which[3] = {"A in bf16", "B in bf16", "A and B in bf16"};
    for (int i = 0; i < 3; ++i) {
      std::vector<float> c16 = c0;
      cpu::gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, g.alpha, as[i], o.lda, bs[i], o.ldb, g.beta, c16.data(), o.ldc);
      EXPECT_EQ(0, std::memcmp(c16.data(), o.c.data(), sizeof(float) * o.c.size())) << name(g) << ", " << which[i];
    }
  }
  // to_bf16 is gemm_bf16's rounding: nearest, ties to even (the ties 1 + 2^-8 down to 1,
  // 1 + 3 x 2^-8 up to 1 + 2^-6), and a NaN stays NaN.
  const float x[4] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f, std::nanf("")};
  uint16_t h[4];
  cpu::to_bf16(h, x, 4);
  EXPECT_EQ(h[0], 0x3f80);
  EXPECT_EQ(h[1], 0x3f82);
  EXPECT_EQ(h[2], 0xc020);
  EXPECT_TRUE(std::isnan(gguf::from_bf16(h[3])));
}

TEST(Gemm, Bf16RefusedWithoutOneDnn) {
  if (cpu::gemm_bf16_available()) GTEST_SKIP() << "this build has oneDNN's bf16";
  float a = 1, b = 1, c = 0;
  EXPECT_THROW(cpu::gemm_bf16(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1), std::runtime_error);
  uint16_t b16 = 0;
  EXPECT_THROW(cpu::gemm_bf16(false, false, 1, 1, 1, 1.0f, &a, 1, &b16, 1, 0.0f, &c, 1), std::runtime_error);
  EXPECT_THROW(cpu::to_bf16(&b16, &b, 1), std::runtime_error);
}

TEST(MatmulPrecision, ResolvedPerDevice) {
  EXPECT_EQ(ops::resolve_precision(Device::cpu, MatmulPrecision::automatic), MatmulPrecision::fp32);
  EXPECT_EQ(ops::resolve_precision(Device::cuda, MatmulPrecision::automatic), MatmulPrecision::bf16);
  EXPECT_EQ(ops::resolve_precision(Device::cuda, MatmulPrecision::tf32), MatmulPrecision::tf32);
  EXPECT_EQ(ops::resolve_precision(Device::cpu, MatmulPrecision::fp32), MatmulPrecision::fp32);
  try {
    ops::resolve_precision(Device::cpu, MatmulPrecision::tf32);
    ADD_FAILURE() << "tf32 on the CPU was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--matmul-precision tf32"), std::string::npos) << e.what();
  }
  if (cpu::gemm_bf16_available())
    EXPECT_EQ(ops::resolve_precision(Device::cpu, MatmulPrecision::bf16), MatmulPrecision::bf16);
  else
    EXPECT_THROW(ops::resolve_precision(Device::cpu, MatmulPrecision::bf16), ConfigError);
}

// The linear layer's three products follow the precision: bf16 forward = the rounded
// operands' product; fp32 = the exact one.
TEST(MatmulPrecision, LinearLayerProductsFollowIt) {
  if (!cpu::gemm_bf16_available()) GTEST_SKIP() << "this build's GEMM is " << cpu::gemm_library() << " (no bf16)";
  const int64_t N = 37, IC = 70, OC = 29;
  GemmCase fwd{false, true, N, OC, IC, 0, 1.0f, 1.0f};  // out = bias + x W^T
  Operands o = make(fwd, 3);                            // a = x (N, IC), b = W (OC, IC)
  std::vector<float> bias(OC);
  for (int64_t j = 0; j < OC; ++j) bias[j] = 0.01f * static_cast<float>(j);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < OC; ++j) o.c[i * OC + j] = bias[j];
  const std::vector<double> want_bf16 = naive(fwd, o, round_bf16), want_fp32 = naive(fwd, o, exact);
  std::vector<float> out(N * OC);
  cpu::linear_forward(out.data(), o.a.data(), o.b.data(), bias.data(), N, IC, OC, MatmulPrecision::bf16);
  expect_close_per_element("linear forward, bf16", out, want_bf16, kTol);
  cpu::linear_forward(out.data(), o.a.data(), o.b.data(), bias.data(), N, IC, OC, MatmulPrecision::fp32);
  expect_close_per_element("linear forward, fp32", out, want_fp32, kTol);

  // dinp = dout W and dW += dout^T x, both on rounded operands.
  std::vector<float> dout(N * OC);
  for (size_t i = 0; i < dout.size(); ++i) dout[i] = std::sin(0.37f * static_cast<float>(i));
  std::vector<float> dinp(N * IC), dw(OC * IC, 0.0f), db(OC, 0.0f);
  cpu::linear_backward(dinp.data(), dw.data(), db.data(), dout.data(), o.a.data(), o.b.data(), N, IC, OC,
                       MatmulPrecision::bf16);
  std::vector<double> want_dinp(N * IC, 0.0), want_dw(OC * IC, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o2 = 0; o2 < OC; ++o2)
      for (int64_t i = 0; i < IC; ++i) {
        const double g = round_bf16(dout[n * OC + o2]);
        want_dinp[n * IC + i] += g * round_bf16(o.b[o2 * IC + i]);
        want_dw[o2 * IC + i] += g * round_bf16(o.a[n * IC + i]);
      }
  expect_close_per_element("linear dinp, bf16", dinp, want_dinp, kTol);
  expect_close_per_element("linear dweight, bf16", dw, want_dw, kTol);
}

// The linear products given the weight's bf16 copy: the same bits as rounding it in each
// product (forward, the fc's forward with its GELU, both backward products).
TEST(MatmulPrecision, LinearWithWeightCopyIsTheSameBits) {
  if (!cpu::gemm_bf16_available()) GTEST_SKIP() << "this build's GEMM is " << cpu::gemm_library() << " (no bf16)";
  const int64_t N = 37, IC = 70, OC = 29;
  Operands o = make({false, true, N, OC, IC, 0, 1.0f, 0.0f}, 5);  // a = x (N, IC), b = W (OC, IC)
  std::vector<uint16_t> w16(o.b.size());
  cpu::to_bf16(w16.data(), o.b.data(), static_cast<int64_t>(o.b.size()));
  std::vector<float> bias(OC), dout(N * OC);
  for (int64_t j = 0; j < OC; ++j) bias[j] = 0.01f * static_cast<float>(j);
  for (size_t i = 0; i < dout.size(); ++i) dout[i] = std::sin(0.37f * static_cast<float>(i));
  struct Out {
    std::vector<float> fwd, pre, act, dinp, dw, db;
  };
  auto run = [&](const uint16_t* copy) {
    Out r{std::vector<float>(N * OC), std::vector<float>(N * OC), std::vector<float>(N * OC),
          std::vector<float>(N * IC), std::vector<float>(OC * IC, 0.5f), std::vector<float>(OC, 0.0f)};
    const MatmulPrecision p = MatmulPrecision::bf16;
    cpu::linear_forward(r.fwd.data(), o.a.data(), o.b.data(), bias.data(), N, IC, OC, p, copy);
    cpu::linear_gelu_forward(r.pre.data(), r.act.data(), o.a.data(), o.b.data(), bias.data(), N, IC, OC, p, copy);
    cpu::linear_backward(r.dinp.data(), r.dw.data(), r.db.data(), dout.data(), o.a.data(), o.b.data(), N, IC, OC, p,
                         copy);
    return r;
  };
  const Out plain = run(nullptr), copied = run(w16.data());
  EXPECT_EQ(copied.fwd, plain.fwd);
  EXPECT_EQ(copied.pre, plain.pre);
  EXPECT_EQ(copied.act, plain.act);
  EXPECT_EQ(copied.dinp, plain.dinp);
  EXPECT_EQ(copied.dw, plain.dw);
  EXPECT_EQ(copied.db, plain.db);
}

}  // namespace
}  // namespace alibi
