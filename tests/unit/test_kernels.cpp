// The CPU kernels (kernels/ops.h): every backward against central finite differences in
// double, every forward against its naive formula in float and double, the `=` / `+=`
// contracts, in-place cross-entropy, unscored targets, large logits, and
// bitwise determinism across thread counts. Shape tables include awkward sizes (N=1, N=7,
// C=1, C=13, V=5, and C=130: two full channel blocks of 64 and a partial one).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/ops.h"
#include "tests/compare.h"
#include "tests/unit/kernel_test_support.h"

namespace alibi {
namespace {

using namespace test;


// Central-difference step: truncation error ~ h^2 |f'''| / 6 ~ 1e-11 and rounding error
// ~ 1e-16 |L| / h ~ 1e-11 |L| for the losses here (|L| < 100): both far below kGradTol.
constexpr double kStep = 1e-5;
// Analytic vs numeric gradient in double, relative to (1 + |g|): the two agree to ~1e-9
// (see kStep); any wrong term in a backward formula is off by 1e-2 or more.
constexpr double kGradTol = 1e-7;


std::vector<int32_t> random_ids(size_t n, int32_t bound, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, bound - 1);
  std::vector<int32_t> ids(n);
  for (int32_t& t : ids) t = dist(gen);
  return ids;
}


double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d loss / d x by central differences; x is restored.
Vec numeric_grad(Vec& x, const std::function<double()>& loss) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + kStep;
    const double up = loss();
    x[i] = x0 - kStep;
    const double down = loss();
    x[i] = x0;
    g[i] = (up - down) / (2 * kStep);
  }
  return g;
}

std::string shape_name(int64_t a, int64_t b, int64_t c = -1) {
  std::ostringstream os;  // not "(" + to_string(a): GCC 12 warns falsely on it (-Wrestrict, PR 105329)
  os << "(" << a << ", " << b;
  if (c >= 0) os << ", " << c;
  os << ")";
  return os.str();
}


struct RowShape {
  int64_t N, C;
};
const RowShape kRowShapes[] = {{1, 1}, {1, 13}, {7, 1}, {7, 13}, {3, 130}};

// ======================================== linear ========================================
struct LinearShape {
  int64_t N, IC, OC;
};
const LinearShape kLinearShapes[] = {{1, 1, 1}, {7, 13, 5}, {1, 13, 7}, {7, 1, 13}, {5, 7, 1}};

Vec naive_linear(const Vec& x, const Vec& w, const Vec& b, int64_t N, int64_t IC, int64_t OC) {
  Vec out(N * OC);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OC; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < IC; ++i) s += x[n * IC + i] * w[o * IC + i];
      out[n * OC + o] = s;
    }
  return out;
}

TEST(Linear, ForwardMatchesNaive) {
  for (const auto [N, IC, OC] : kLinearShapes) {
    const Vec x = random_vec(N * IC, 1), w = random_vec(OC * IC, 2), b = random_vec(OC, 3);
    const Vec want = naive_linear(x, w, b, N, IC, OC);
    Vec out(N * OC);
    cpu::linear_forward(out.data(), x.data(), w.data(), b.data(), N, IC, OC);
    expect_close_per_element("double " + shape_name(N, IC, OC), out, want, kDoubleTol);
    FVec xf = to_float(x), wf = to_float(w), bf = to_float(b), outf(N * OC);
    cpu::linear_forward(outf.data(), xf.data(), wf.data(), bf.data(), N, IC, OC);
    expect_close_per_element("float " + shape_name(N, IC, OC), outf, want, kFloatTol);
    Vec no_bias(N * OC, 7.0);  // bias null: out is overwritten with x W^T
    cpu::linear_forward<double>(no_bias.data(), x.data(), w.data(), nullptr, N, IC, OC);
    expect_close_per_element("no bias", no_bias, naive_linear(x, w, Vec(OC, 0.0), N, IC, OC), kDoubleTol);
  }
}

TEST(Linear, BackwardMatchesFiniteDifferences) {
  for (const auto [N, IC, OC] : kLinearShapes) {
    Vec x = random_vec(N * IC, 4), w = random_vec(OC * IC, 5), b = random_vec(OC, 6);
    const Vec R = random_vec(N * OC, 7);
    auto loss = [&] {
      Vec out(N * OC);
      cpu::linear_forward(out.data(), x.data(), w.data(), b.data(), N, IC, OC);
      return dot(out, R);
    };
    Vec dx(N * IC, 99.0), dw(OC * IC, 0.0), db(OC, 0.0);  // dx `=`: the 99s must vanish
    cpu::linear_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), N, IC, OC);
    const std::string s = shape_name(N, IC, OC);
    expect_close_per_element("dinp " + s, dx, numeric_grad(x, loss), kGradTol);
    expect_close_per_element("dweight " + s, dw, numeric_grad(w, loss), kGradTol);
    expect_close_per_element("dbias " + s, db, numeric_grad(b, loss), kGradTol);
  }
}

TEST(Linear, ParameterGradientsAccumulate) {
  const int64_t N = 7, IC = 13, OC = 5;
  const Vec x = random_vec(N * IC, 8), w = random_vec(OC * IC, 9), dy = random_vec(N * OC, 10);
  Vec dx(N * IC), dw(OC * IC, 0.0), db(OC, 0.0);
  cpu::linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), N, IC, OC);
  const Vec dx1 = dx, dw1 = dw, db1 = db;
  cpu::linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), N, IC, OC);
  Vec dw2 = dw1, db2 = db1;
  for (double& v : dw2) v *= 2;
  for (double& v : db2) v *= 2;
  expect_close_per_element("dweight after two calls", dw, dw2, kDoubleTol);
  expect_close_per_element("dbias after two calls", db, db2, kDoubleTol);
  expect_close_per_element("dinp is `=`, not `+=`", dx, dx1, 0.0);
  // Null dinp and dbias are skipped (the first layer needs no dinp).
  Vec dw3(OC * IC, 0.0);
  cpu::linear_backward<double>(nullptr, dw3.data(), nullptr, dy.data(), x.data(), w.data(), N, IC, OC);
  expect_close_per_element("dweight with null dinp/dbias", dw3, dw1, kDoubleTol);
}

// ====================================== embedding =======================================
TEST(Embedding, ForwardMatchesNaive) {
  for (const auto [N, C] : kRowShapes) {
    const int32_t V = 5;
    const Vec wte = random_vec(V * C, 11);
    const auto tok = random_ids(N, V, 12);
    Vec out(N * C);
    cpu::embedding_forward(out.data(), tok.data(), wte.data(), N, C);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) ASSERT_EQ(out[n * C + c], wte[tok[n] * C + c]);  // a copy: exact
    FVec wf = to_float(wte), outf(N * C);
    cpu::embedding_forward(outf.data(), tok.data(), wf.data(), N, C);
    for (int64_t i = 0; i < N * C; ++i) ASSERT_EQ(outf[i], static_cast<float>(out[i]));
  }
}

TEST(Embedding, BackwardMatchesFiniteDifferences) {
  for (const auto [N, C] : kRowShapes) {
    const int32_t V = 5;  // N=7 over 5 ids: repeated tokens exercise the scatter-add
    Vec wte = random_vec(V * C, 13);
    const auto tok = random_ids(N, V, 14);
    const Vec R = random_vec(N * C, 15);
    auto loss = [&] {
      Vec out(N * C);
      cpu::embedding_forward(out.data(), tok.data(), wte.data(), N, C);
      return dot(out, R);
    };
    Vec dwte(V * C, 0.0);
    cpu::embedding_backward(dwte.data(), R.data(), tok.data(), N, C);
    expect_close_per_element("dwte " + shape_name(N, C), dwte, numeric_grad(wte, loss), kGradTol);
  }
}

TEST(Embedding, BackwardAccumulates) {
  const int64_t N = 7, C = 130;
  const int32_t V = 5;
  const auto tok = random_ids(N, V, 16);
  const Vec dy = random_vec(N * C, 17);
  Vec once(V * C, 0.0), twice(V * C, 0.0);
  cpu::embedding_backward(once.data(), dy.data(), tok.data(), N, C);
  cpu::embedding_backward(twice.data(), dy.data(), tok.data(), N, C);
  cpu::embedding_backward(twice.data(), dy.data(), tok.data(), N, C);
  for (double& v : once) v *= 2;
  // Repeated tokens add row by row into what is there, so the rounding differs from 2x by ulps.
  expect_close_per_element("dwte after two calls", twice, once, kDoubleTol);
}

TEST(Embedding, BackwardIsBitwiseDeterministic) {
  const int64_t N = 257, C = 200;
  const int32_t V = 11;
  const auto tok = random_ids(N, V, 18);
  const FVec dy = to_float(random_vec(N * C, 19));
  FVec one(V * C, 0.f), two(V * C, 0.f), again(V * C, 0.f);
  with_threads(1, [&] { cpu::embedding_backward(one.data(), dy.data(), tok.data(), N, C); });
  with_threads(2, [&] { cpu::embedding_backward(two.data(), dy.data(), tok.data(), N, C); });
  with_threads(2, [&] { cpu::embedding_backward(again.data(), dy.data(), tok.data(), N, C); });
  EXPECT_EQ(one, two);  // training resume is compared bit for bit
  EXPECT_EQ(two, again);
}

// ====================================== LayerNorm =======================================
void naive_layernorm(Vec& out, Vec& mean, Vec& rstd, const Vec& x, const Vec& w, const Vec& b, int64_t N,
                     int64_t C) {
  out.assign(N * C, 0);
  mean.assign(N, 0);
  rstd.assign(N, 0);
  for (int64_t n = 0; n < N; ++n) {
    double m = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) m += x[n * C + c] / C;
    for (int64_t c = 0; c < C; ++c) var += (x[n * C + c] - m) * (x[n * C + c] - m) / C;  // biased
    mean[n] = m;
    rstd[n] = 1 / std::sqrt(var + 1e-5);
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = (x[n * C + c] - m) * rstd[n] * w[c] + b[c];
  }
}

TEST(LayerNorm, ForwardMatchesNaive) {
  for (const auto [N, C] : kRowShapes) {
    Vec x = random_vec(N * C, 20, -2, 3), w = random_vec(C, 21), b = random_vec(C, 22);
    Vec want, want_mean, want_rstd;
    naive_layernorm(want, want_mean, want_rstd, x, w, b, N, C);
    Vec out(N * C), mean(N), rstd(N);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    const std::string s = shape_name(N, C);
    expect_close_per_element("double out " + s, out, want, kDoubleTol);
    expect_close_per_element("double mean " + s, mean, want_mean, kDoubleTol);
    expect_close_per_element("double rstd " + s, rstd, want_rstd, kDoubleTol);
    FVec xf = to_float(x), wf = to_float(w), bf = to_float(b), outf(N * C), meanf(N), rstdf(N);
    cpu::layernorm_forward(outf.data(), meanf.data(), rstdf.data(), xf.data(), wf.data(), bf.data(), N, C);
    // rstd reaches 1/sqrt(eps) = 316 for C=1: compare float against its own scale.
    expect_close_per_element("float out " + s, outf, want, kFloatTol);
    expect_close_per_element("float rstd " + s, rstdf, want_rstd, kFloatTol);
  }
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) {
  for (const auto [N, C] : kRowShapes) {
    Vec x = random_vec(N * C, 23), w = random_vec(C, 24, 0.5, 1.5), b = random_vec(C, 25);
    const Vec R = random_vec(N * C, 26);
    auto loss = [&] {
      Vec out(N * C), mean(N), rstd(N);
      cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
      return dot(out, R);
    };
    Vec out(N * C), mean(N), rstd(N);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    Vec dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
    cpu::layernorm_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), mean.data(),
                            rstd.data(), N, C);
    const std::string s = shape_name(N, C);
    expect_close_per_element("dinp " + s, dx, numeric_grad(x, loss), kGradTol);
    expect_close_per_element("dweight " + s, dw, numeric_grad(w, loss), kGradTol);
    expect_close_per_element("dbias " + s, db, numeric_grad(b, loss), kGradTol);
  }
}

TEST(LayerNorm, BackwardAccumulatesEveryGradient) {
  const int64_t N = 7, C = 130;
  const Vec x = random_vec(N * C, 27), w = random_vec(C, 28), b = random_vec(C, 29), dy = random_vec(N * C, 30);
  Vec out(N * C), mean(N), rstd(N);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
  auto backward = [&](Vec& dx, Vec& dw, Vec& db) {
    cpu::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(),
                            rstd.data(), N, C);
  };
  Vec dx1(N * C, 0.0), dw1(C, 0.0), db1(C, 0.0);
  backward(dx1, dw1, db1);
  // dinp is the residual stream's gradient: it adds to what is there.
  const Vec residual = random_vec(N * C, 31);
  Vec dx = residual, dw(C, 0.0), db(C, 0.0);
  backward(dx, dw, db);
  backward(dx, dw, db);
  Vec want_dx(N * C), want_dw(C), want_db(C);
  for (int64_t i = 0; i < N * C; ++i) want_dx[i] = residual[i] + 2 * dx1[i];
  for (int64_t c = 0; c < C; ++c) want_dw[c] = 2 * dw1[c], want_db[c] = 2 * db1[c];
  expect_close_per_element("dinp += twice", dx, want_dx, kDoubleTol);
  expect_close_per_element("dweight += twice", dw, want_dw, kDoubleTol);
  expect_close_per_element("dbias += twice", db, want_db, kDoubleTol);
}

TEST(LayerNorm, BackwardIsBitwiseDeterministic) {
  const int64_t N = 301, C = 200;
  const FVec x = to_float(random_vec(N * C, 32)), w = to_float(random_vec(C, 33)), b = to_float(random_vec(C, 34));
  const FVec dy = to_float(random_vec(N * C, 35));
  FVec out(N * C), mean(N), rstd(N);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
  auto run = [&](int threads) {
    FVec dx(N * C, 0.f), dw(C, 0.f), db(C, 0.f);
    with_threads(threads, [&] {
      cpu::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(),
                              rstd.data(), N, C);
    });
    dx.insert(dx.end(), dw.begin(), dw.end());
    dx.insert(dx.end(), db.begin(), db.end());
    return dx;
  };
  const FVec one = run(1), two = run(2);
  EXPECT_EQ(one, two);  // training resume is compared bit for bit
  EXPECT_EQ(two, run(2));
}

// ======================================== GELU ==========================================
double naive_gelu(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}

TEST(Gelu, ForwardMatchesNaive) {
  for (int64_t n : {1, 13, 1000}) {
    const Vec x = random_vec(n, 36, -6, 6);
    Vec out(n), want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = naive_gelu(x[i]);
    cpu::gelu_forward(out.data(), x.data(), n);
    expect_close_per_element("double gelu", out, want, kDoubleTol);
    FVec xf = to_float(x), outf(n);
    cpu::gelu_forward(outf.data(), xf.data(), n);
    expect_close_per_element("float gelu", outf, want, kFloatTol);
  }
  EXPECT_EQ(gelu(0.0), 0.0);
  EXPECT_NEAR(gelu(10.0), 10.0, 1e-12);  // tanh saturates: gelu(x) = x for large x
}

TEST(Gelu, BackwardMatchesFiniteDifferencesAndOverwrites) {
  for (int64_t n : {1, 13, 1000}) {
    Vec x = random_vec(n, 37, -5, 5);
    const Vec R = random_vec(n, 38);
    auto loss = [&] {
      Vec out(n);
      cpu::gelu_forward(out.data(), x.data(), n);
      return dot(out, R);
    };
    Vec dx(n, 99.0);  // `=`: the 99s must vanish
    cpu::gelu_backward(dx.data(), x.data(), R.data(), n);
    expect_close_per_element("gelu dinp n=" + std::to_string(n), dx, numeric_grad(x, loss), kGradTol);
  }
}

// ==================================== cross-entropy =====================================
struct CeShape {
  int64_t N, V;
};
const CeShape kCeShapes[] = {{1, 5}, {7, 5}, {7, 13}, {1, 1}, {4, 130}};

// Every third row unscored (row 1, 4, ...), as padding or an evaluation mask would do.
std::vector<int32_t> ce_targets(int64_t N, int64_t V, uint64_t seed) {
  auto t = random_ids(N, static_cast<int32_t>(V), seed);
  for (int64_t n = 1; n < N; n += 3) t[n] = -1;
  return t;
}

TEST(CrossEntropy, ForwardMatchesNaive) {
  for (const auto [N, V] : kCeShapes) {
    const Vec logits = random_vec(N * V, 39, -3, 3);
    const auto tgt = ce_targets(N, V, 40);
    Vec want(N, 0.0);
    for (int64_t n = 0; n < N; ++n) {
      if (tgt[n] < 0) continue;
      double z = 0;  // logits in [-3, 3]: no overflow without the max shift
      for (int64_t v = 0; v < V; ++v) z += std::exp(logits[n * V + v]);
      want[n] = -std::log(std::exp(logits[n * V + tgt[n]]) / z);
    }
    Vec loss(N, 99.0);
    cpu::cross_entropy_forward(loss.data(), logits.data(), tgt.data(), N, V);
    expect_close_per_element("double loss " + shape_name(N, V), loss, want, kDoubleTol);
    FVec lf = to_float(logits), lossf(N);
    cpu::cross_entropy_forward(lossf.data(), lf.data(), tgt.data(), N, V);
    expect_close_per_element("float loss " + shape_name(N, V), lossf, want, kFloatTol);
  }
}

TEST(CrossEntropy, BackwardMatchesFiniteDifferences) {
  const double scale = 0.37;  // e.g. 1 / (scored tokens of the global batch)
  for (const auto [N, V] : kCeShapes) {
    Vec logits = random_vec(N * V, 41, -3, 3);
    const auto tgt = ce_targets(N, V, 42);
    auto loss = [&] {
      Vec l(N);
      cpu::cross_entropy_forward(l.data(), logits.data(), tgt.data(), N, V);
      double s = 0;
      for (double v : l) s += v;
      return scale * s;
    };
    Vec d(N * V, 99.0);  // `=`: the 99s must vanish, also on unscored rows
    cpu::cross_entropy_backward(d.data(), logits.data(), tgt.data(), N, V, scale);
    expect_close_per_element("dlogits " + shape_name(N, V), d, numeric_grad(logits, loss), kGradTol);
  }
}

template <class T>
void check_in_place(int64_t N, int64_t V) {
  std::vector<T> logits(N * V);
  const Vec r = random_vec(N * V, 43, -8, 8);
  for (int64_t i = 0; i < N * V; ++i) logits[i] = static_cast<T>(r[i]);
  const auto tgt = ce_targets(N, V, 44);
  std::vector<T> out_of_place(N * V);
  cpu::cross_entropy_backward(out_of_place.data(), logits.data(), tgt.data(), N, V, T(0.25));
  cpu::cross_entropy_backward(logits.data(), logits.data(), tgt.data(), N, V, T(0.25));
  EXPECT_EQ(logits, out_of_place);  // the same arithmetic in the same order: identical bits
}

TEST(CrossEntropy, InPlaceBackwardEqualsOutOfPlace) {
  for (const auto [N, V] : kCeShapes) {
    check_in_place<double>(N, V);
    check_in_place<float>(N, V);
  }
}

TEST(CrossEntropy, UnscoredTargetsGiveZeroLossAndGradient) {
  const int64_t N = 3, V = 5;
  const Vec logits = random_vec(N * V, 45, -3, 3);
  const std::vector<int32_t> tgt = {-1, 2, -100};
  Vec loss(N, 99.0), d(N * V, 99.0);
  cpu::cross_entropy_forward(loss.data(), logits.data(), tgt.data(), N, V);
  cpu::cross_entropy_backward(d.data(), logits.data(), tgt.data(), N, V, 1.0);
  EXPECT_EQ(loss[0], 0.0);
  EXPECT_GT(loss[1], 0.0);
  EXPECT_EQ(loss[2], 0.0);
  double row_sum = 0;
  for (int64_t v = 0; v < V; ++v) {
    EXPECT_EQ(d[v], 0.0);
    EXPECT_EQ(d[2 * V + v], 0.0);
    row_sum += d[V + v];
  }
  EXPECT_NEAR(row_sum, 0.0, 1e-15);  // softmax sums to 1, minus the one-hot: a few ulps of 1
}

template <class T>
void check_large_logits() {
  // Naive exp(1e4) overflows even in double; the shifted form must not.
  const int64_t N = 2, V = 5;
  const std::vector<T> logits = {T(1e4), T(0), T(-1e4), T(5e3), T(1e4),   // two maxima tie
                                 T(-1e4), T(-1e4), T(-1e4), T(-1e4), T(-1e4)};
  const std::vector<int32_t> tgt = {1, 3};
  std::vector<T> loss(N), d(N * V);
  cpu::cross_entropy_forward(loss.data(), logits.data(), tgt.data(), N, V);
  cpu::cross_entropy_backward(d.data(), logits.data(), tgt.data(), N, V, T(1));
  for (T l : loss) EXPECT_TRUE(std::isfinite(l));
  for (T g : d) EXPECT_TRUE(std::isfinite(g));
  // Row 0: softmax is (1/2, 0, 0, 0, 1/2) up to e^-5000, the target logit is 1e4 below the max.
  // 1e-3 is one float ulp at 1e4.
  EXPECT_NEAR(loss[0], 1e4 + std::log(2.0), 1e-3);
  EXPECT_NEAR(loss[1], std::log(5.0), 1e-6);  // all equal: uniform; float log(5) to 1e-6
  const double want0[] = {0.5, -1, 0, 0, 0.5};
  for (int64_t v = 0; v < V; ++v) EXPECT_NEAR(d[v], want0[v], 1e-6) << v;  // float rounding of 1/2
  for (int64_t v = 0; v < V; ++v) EXPECT_NEAR(d[V + v], v == 3 ? -0.8 : 0.2, 1e-6) << v;
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  check_large_logits<float>();
  check_large_logits<double>();
}

// The model's own cross-entropy (the vocabulary-parallel steps, kernels/cpu/vocab_ce.cpp) in
// float, whose loops are vectorised with softmax_exp and a blocked double sum, against the
// naive formula in double: a shard (v0 > 0) of widths below, at and across the 256-logit
// block, the target in and out of the shard, and a row holding a NaN, which must give a NaN
// loss (the trainer's non-finite check counts on it) and leave the other rows alone.
TEST(VocabCrossEntropy, FloatMatchesNaiveDoubleAndPropagatesNaN) {
  for (const int64_t V : {int64_t{5}, int64_t{256}, int64_t{1000}}) {
    const int64_t N = 6, v0 = 300, ld = V + 3;  // ld > V: the row stride of a padded head
    const Vec r = random_vec(N * ld, 46, -8, 8);
    FVec logits(r.begin(), r.end());
    std::vector<int32_t> tgt = {static_cast<int32_t>(v0), static_cast<int32_t>(v0 + V - 1), -1,
                                static_cast<int32_t>(v0 - 1), static_cast<int32_t>(v0 + V / 2), static_cast<int32_t>(v0 + 1)};
    if (V > 1) logits[5 * ld + V / 3] = NAN;  // row 5
    FVec row_max(N), losses(N), d(N * ld, 99.0f);
    std::vector<double> sum_exp(N), target_logit(N);
    cpu::vocab_ce_row_max<float>(row_max.data(), logits.data(), N, V, ld);
    cpu::vocab_ce_partials<float>(sum_exp.data(), target_logit.data(), logits.data(), row_max.data(), tgt.data(), v0, N, V, ld);
    cpu::vocab_ce_losses<float>(losses.data(), sum_exp.data(), target_logit.data(), row_max.data(), tgt.data(), N);
    cpu::vocab_ce_backward<float>(d.data(), logits.data(), row_max.data(), sum_exp.data(), tgt.data(), v0, N, V, ld, 0.25f);
    for (int64_t n = 0; n < 5; ++n) {
      double mx = -INFINITY, z = 0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double{logits[n * ld + v]});
      for (int64_t v = 0; v < V; ++v) z += std::exp(double{logits[n * ld + v]} - mx);
      const int64_t local = tgt[n] - v0;
      const bool here = tgt[n] >= 0 && local >= 0 && local < V;
      // The local partial loss: log of the shard's sum minus its target logit (0 off the shard).
      const double want = tgt[n] < 0 ? 0.0 : std::log(z) - ((here ? double{logits[n * ld + local]} : 0.0) - mx);
      EXPECT_NEAR(losses[n], want, 1e-6 * std::max(1.0, std::abs(want))) << "V " << V << " row " << n;
      EXPECT_NEAR(sum_exp[n], z, 1e-6 * z) << "V " << V << " row " << n;
      for (int64_t v = 0; v < V; ++v) {
        const double g = tgt[n] < 0 ? 0.0 : 0.25 * (std::exp(double{logits[n * ld + v]} - mx) / z - (v == local ? 1.0 : 0.0));
        ASSERT_NEAR(d[n * ld + v], g, 1e-7) << "V " << V << " row " << n << " logit " << v;
      }
    }
    if (V > 1) {
      EXPECT_TRUE(std::isnan(losses[5])) << "V " << V << ": a NaN logit must give a NaN loss, got " << losses[5];
    }
  }
}

// ========================================= add ==========================================
TEST(Add, MatchesNaiveAndAllowsAliasing) {
  for (int64_t n : {1, 13, 100000}) {  // 100000 crosses the parallel threshold
    const Vec a = random_vec(n, 46), b = random_vec(n, 47);
    Vec want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    Vec out(n);
    cpu::add(out.data(), a.data(), b.data(), n);
    expect_close_per_element("add", out, want, 0.0);  // one rounding, same as the naive sum: exact
    Vec in_a = a, in_b = b;
    cpu::add(in_a.data(), in_a.data(), b.data(), n);
    cpu::add(in_b.data(), a.data(), in_b.data(), n);
    expect_close_per_element("add into a", in_a, want, 0.0);
    expect_close_per_element("add into b", in_b, want, 0.0);
  }
}

}  // namespace
}  // namespace alibi
