// The optimizer against hand arithmetic: the learning-rate schedule at known steps, one
// and two AdamW steps against the formula written out here (bias correction, decoupled
// weight decay), weight decay on the model's matrices only, and the global grad-norm clip
// (a tied copy counted once, nothing done below max). Every expected number is computed in
// this file, never by calling the code under test a second time.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layers/model.h"
#include "layers/optimizer.h"

namespace alibi {
namespace {

// ---- learning-rate schedule -------------------------------------------------------------
// lr 1e-3 -> min 1e-4, warm-up 4 steps, 13 steps: warm-up is steps 0..3 at (s+1)/4 * lr,
// then cosine over total-1-warmup = 8 steps, from lr at step 4 to min_lr at step 12.
// The values are products of short decimals: 1e-12 is a few ulps of 1e-3 in double.
constexpr double kLrTol = 1e-12;

TEST(LrSchedule, WarmupIsLinearFromLrOverWarmup) {
  const LrSchedule s{1e-3, 1e-4, 4, 13};
  EXPECT_NEAR(lr_at(0, s), 0.25e-3, kLrTol);  // step 0 already trains: 1/4 of lr, not 0
  EXPECT_NEAR(lr_at(1, s), 0.50e-3, kLrTol);
  EXPECT_NEAR(lr_at(2, s), 0.75e-3, kLrTol);
  EXPECT_NEAR(lr_at(3, s), 1.00e-3, kLrTol);  // the peak at the end of warm-up
}

TEST(LrSchedule, CosineFromLrToMinLrAtTheLastStep) {
  const LrSchedule s{1e-3, 1e-4, 4, 13};
  // min + (lr - min)/2 * (1 + cos(pi * p)), p = (step - 4) / 8
  EXPECT_NEAR(lr_at(4, s), 1e-3, kLrTol);                     // p = 0
  EXPECT_NEAR(lr_at(6, s), 1e-4 + 0.45e-3 * (1 + 0.70710678118654752), kLrTol);  // p = 1/4: cos = sqrt(2)/2
  EXPECT_NEAR(lr_at(8, s), 5.5e-4, kLrTol);                   // p = 1/2: half way
  EXPECT_NEAR(lr_at(10, s), 1e-4 + 0.45e-3 * (1 - 0.70710678118654752), kLrTol);  // p = 3/4
  EXPECT_NEAR(lr_at(12, s), 1e-4, kLrTol);                    // the last step: min_lr
  EXPECT_NEAR(lr_at(40, s), 1e-4, kLrTol);                    // past the end (a longer resume): stays
}

TEST(LrSchedule, NoWarmupStartsAtThePeak) {
  const LrSchedule s{2e-3, 0.0, 0, 3};
  EXPECT_NEAR(lr_at(0, s), 2e-3, kLrTol);
  EXPECT_NEAR(lr_at(1, s), 1e-3, kLrTol);  // p = 1/2 of 2 decay steps
  EXPECT_NEAR(lr_at(2, s), 0.0, kLrTol);
}

// ---- a parameter list built by hand -----------------------------------------------------
// One tensor and its gradient, owned by the test; ParamRef points at them.
template <class Real>
struct Owned {
  Tensor value, grad;
  Owned(const Shape& shape, const std::vector<double>& v, const std::vector<double>& g)
      : value(Tensor::zeros(shape, dtype_of<Real>())), grad(Tensor::zeros(shape, dtype_of<Real>())) {
    for (int64_t i = 0; i < value.numel(); ++i) {
      value.data<Real>()[i] = static_cast<Real>(v[i]);
      grad.data<Real>()[i] = static_cast<Real>(g[i]);
    }
  }
  ParamRef ref(const std::string& name, bool decay, bool tied_copy = false) {
    return ParamRef{name, &value, &grad, decay, Sharding::whole(value.shape()), tied_copy};
  }
  double v(int64_t i) const { return value.data<Real>()[i]; }
  double g(int64_t i) const { return grad.data<Real>()[i]; }
};

// ---- AdamW against the formula ------------------------------------------------------------
// Loshchilov & Hutter's AdamW, as PyTorch applies the schedule (decay scaled by lr):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  mhat = m / (1 - b1^t);  vhat = v / (1 - b2^t)
//   p = p - lr * (mhat / (sqrt(vhat) + eps) + wd * p)        (decay off: wd = 0)
struct HandAdam {
  double p, m = 0, v = 0;
  void step(double g, int t, double lr, double wd, double b1, double b2, double eps) {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
    p = p - lr * (mhat / (std::sqrt(vhat) + eps) + wd * p);
  }
};

TEST(AdamWOptimizer, TwoStepsMatchTheFormulaInDouble) {
  const double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.99, eps = 1e-8;
  const std::vector<double> p0 = {1.0, -2.0, 0.5, 3.0}, g1 = {0.5, -0.25, 0.0, 4.0}, g2 = {-0.25, 1.0, 0.0, 4.0};
  Owned<double> w({2, 2}, p0, g1), b({4}, p0, g1);
  AdamW<double> opt({w.ref("w", /*decay=*/true), b.ref("b", /*decay=*/false)},
                    {static_cast<float>(b1), static_cast<float>(b2), static_cast<float>(eps)});
  // The hyper-parameters pass through float: use the float values in the formula too.
  const double fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), feps = static_cast<float>(eps);
  const double flr = static_cast<float>(lr), fwd = static_cast<float>(wd);
  std::vector<HandAdam> hw, hb;
  for (double x : p0) hw.push_back({x}), hb.push_back({x});

  opt.step(static_cast<float>(lr), static_cast<float>(wd));
  for (int i = 0; i < 4; ++i) hw[i].step(g1[i], 1, flr, fwd, fb1, fb2, feps), hb[i].step(g1[i], 1, flr, 0, fb1, fb2, feps);
  // The first step is lr * sign(g) (mhat = g, vhat = g^2), plus decay: p0 = 1, g = 0.5 ->
  // 1 - 0.01 * (1 + 0.1 * 1) = 0.989. (With 1 - b1 = sqrt(1 - b2) an uncorrected step 1
  // is the same; the second step below is what checks the correction.)
  EXPECT_NEAR(w.v(0), 0.989, 1e-9);  // eps / |g| = 2e-8 of lr, and lr's float rounding ~2e-10
  EXPECT_NEAR(b.v(0), 0.990, 1e-9);  // the bias does not decay
  EXPECT_DOUBLE_EQ(w.v(2), 0.5 * (1 - flr * fwd));  // zero gradient: decay alone, p (1 - lr wd)
  EXPECT_EQ(b.v(2), 0.5);                     // zero gradient, no decay: untouched

  for (int i = 0; i < 4; ++i) w.grad.data<double>()[i] = g2[i], b.grad.data<double>()[i] = g2[i];
  opt.step(static_cast<float>(lr), static_cast<float>(wd));
  for (int i = 0; i < 4; ++i) hw[i].step(g2[i], 2, flr, fwd, fb1, fb2, feps), hb[i].step(g2[i], 2, flr, 0, fb1, fb2, feps);
  EXPECT_EQ(opt.steps_taken(), 2);
  // Same operations in double in a different order: agreement to ~1e-15; 1e-13 is margin.
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(w.v(i), hw[i].p, 1e-13) << "decayed element " << i;
    EXPECT_NEAR(b.v(i), hb[i].p, 1e-13) << "undecayed element " << i;
    EXPECT_NEAR(opt.first_moments()[0].data<double>()[i], hw[i].m, 1e-15) << "m " << i;
    EXPECT_NEAR(opt.second_moments()[0].data<double>()[i], hw[i].v, 1e-15) << "v " << i;
  }
  // Step 2 by hand for element 0 (g = -0.25 after 0.5): m = 0.045 - 0.025 = 0.02,
  // v = 0.002475 + 0.000625 = 0.0031, mhat = 0.02 / 0.19, vhat = 0.0031 / 0.0199.
  const double p1 = 0.989 + 0.01 * 1e-8 / (0.5 + 1e-8);  // step 1 with eps: g / (|g| + eps) = 1 - eps / (|g| + eps)
  const double ratio = (0.02 / 0.19) / (std::sqrt(0.0031 / 0.0199) + 1e-8);
  EXPECT_NEAR(w.v(0), p1 - 0.01 * (ratio + 0.1 * p1), 1e-8);  // the hyper-parameters' float rounding: ~1e-9
}

TEST(AdamWOptimizer, FloatStepMatchesTheFormula) {
  const std::vector<double> p0 = {0.3, -0.7, 1.5}, g = {0.02, -3.0, 0.4};
  Owned<float> w({3}, p0, g);
  AdamW<float> opt({w.ref("w", true)}, {0.9f, 0.95f, 1e-8f});
  opt.step(3e-4f, 0.1f);
  for (int i = 0; i < 3; ++i) {
    HandAdam h{p0[i]};
    h.step(g[i], 1, 3e-4f, 0.1f, 0.9f, 0.95f, 1e-8f);
    // float arithmetic on values ~1: a few ulps, 2^-23 ~ 1.2e-7 each.
    EXPECT_NEAR(w.v(i), h.p, 1e-6) << "element " << i;
  }
}

TEST(AdamWOptimizer, ResumedStepCountContinuesTheBiasCorrection) {
  // A resume restores m, v and the step count; step 10 must use 1 - b^10, not 1 - b^1.
  Owned<double> w({1}, {1.0}, {0.5});
  AdamW<double> opt({w.ref("w", false)}, {0.5f, 0.5f, 0.0f});  // betas 0.5: powers exact in binary
  opt.first_moments()[0].data<double>()[0] = 0.25;
  opt.second_moments()[0].data<double>()[0] = 0.125;
  opt.set_steps_taken(9);
  opt.step(0.01f, 0.0f);
  // m = 0.125 + 0.25 = 0.375, v = 0.0625 + 0.125 = 0.1875, 1 - 2^-10 = 1023/1024.
  const double mhat = 0.375 * 1024 / 1023, vhat = 0.1875 * 1024 / 1023;
  EXPECT_NEAR(w.v(0), 1.0 - double(0.01f) * mhat / std::sqrt(vhat), 1e-15);
  EXPECT_EQ(opt.steps_taken(), 10);
}

// ---- weight decay on matrices only --------------------------------------------------------
// Which of the model's tensors are matrices, by shape and name, not by the decay flag under
// test: 2-D tensors (linear weights, embedding, learned positions) decay; LayerNorm gains
// and biases, linear biases and T5's bias buckets do not.
bool should_decay(const ParamRef& p) {
  const bool bias_table = p.name.find("t5_bias") != std::string::npos;
  return p.value->shape().size() == 2 && !bias_table;
}

void expect_decay_on_matrices_only(const ModelConfig& cfg) {
  Model<float> model(cfg, 7);
  std::vector<Tensor> before;
  for (const ParamRef& p : model.parameters()) {
    before.push_back(Tensor::empty(p.value->shape(), DType::f32));
    before.back().copy_from(*p.value);
  }
  zero_grads(model.parameters());  // zero gradients: the step is the decay alone
  AdamW<float> opt(model.parameters(), {0.9f, 0.95f, 1e-8f});
  opt.step(0.1f, 0.5f);  // p (1 - 0.05)
  int decayed = 0, kept = 0;
  for (size_t k = 0; k < model.parameters().size(); ++k) {
    const ParamRef& p = model.parameters()[k];
    const bool decays = should_decay(p);
    (decays ? decayed : kept) += 1;
    const float factor = decays ? 1.0f - 0.1f * 0.5f : 1.0f;
    for (int64_t i = 0; i < p.value->numel(); ++i) {
      const float b = before[k].data<float>()[i];
      // A few float roundings either way (~1.2e-7 relative each): 5e-7; a missed or
      // wrongly applied decay is off by 5e-2.
      ASSERT_NEAR(p.value->data<float>()[i], b * factor, 5e-7f * std::abs(b))
          << p.name << (decays ? " should decay" : " should not decay") << ", element " << i;
    }
  }
  EXPECT_GE(decayed, 4) << "too few matrices: the model's parameter list changed?";
  EXPECT_GE(kept, 4) << "too few LayerNorm/bias tensors: the model's parameter list changed?";
}

TEST(AdamWOptimizer, WeightDecayOnMatricesOnlyAlibiUntied) {
  ModelConfig cfg;
  cfg.vocab = 40, cfg.layers = 2, cfg.channels = 16, cfg.heads = 2, cfg.seq_len = 8;
  cfg.tie_embeddings = false;  // an lm_head matrix too
  expect_decay_on_matrices_only(cfg);
}

TEST(AdamWOptimizer, WeightDecayOnMatricesOnlyLearnedAndT5Positions) {
  ModelConfig cfg;
  cfg.vocab = 40, cfg.layers = 1, cfg.channels = 16, cfg.heads = 2, cfg.seq_len = 8;
  cfg.position = PositionMethod::learned;  // the position table is a matrix: decays
  expect_decay_on_matrices_only(cfg);
  cfg.position = PositionMethod::t5;  // the bias buckets are biases: no decay
  expect_decay_on_matrices_only(cfg);
}

// ---- global grad-norm clip ----------------------------------------------------------------
// Gradients with a hand norm: a (2,3) matrix {1,2,2,0,0,0} (squares 9) and a vector
// {2,2,2,2} (16): norm sqrt(25) = 5. A tied copy (the last stage's embedding) holds the
// same gradient as the first stage's and must not count again: its 7s would add 98.
struct ClipFixture {
  Owned<float> a{{2, 3}, {0, 0, 0, 0, 0, 0}, {1, 2, 2, 0, 0, 0}};
  Owned<float> b{{4}, {0, 0, 0, 0}, {2, 2, 2, 2}};
  Owned<float> tied{{2}, {0, 0}, {7, 7}};
  ProcessGrid grid = ProcessGrid::single();
  ParameterList params() { return {a.ref("a", true), b.ref("b", false), tied.ref("tied", true, /*tied_copy=*/true)}; }
};

TEST(GradClip, NormCountsEveryElementOnceAndNotTheTiedCopy) {
  ClipFixture f;
  // sum_squares accumulates in double: 5 exactly.
  EXPECT_DOUBLE_EQ(global_grad_norm<float>(f.params(), f.grid), 5.0);
}

TEST(GradClip, BelowMaxLeavesGradientsUntouched) {
  for (double max_norm : {5.5, 0.0}) {  // above the norm; 0 turns clipping off
    ClipFixture f;
    EXPECT_DOUBLE_EQ(clip_grad_norm<float>(f.params(), max_norm, f.grid), 5.0);
    EXPECT_EQ(f.a.g(1), 2.0f) << "max_norm " << max_norm;
    EXPECT_EQ(f.b.g(0), 2.0f) << "max_norm " << max_norm;
    EXPECT_EQ(f.tied.g(0), 7.0f) << "max_norm " << max_norm;
  }
}

TEST(GradClip, AboveMaxScalesEveryGradientToMax) {
  ClipFixture f;
  EXPECT_DOUBLE_EQ(clip_grad_norm<float>(f.params(), 1.0, f.grid), 5.0);  // returns the norm before
  const double scale = 1.0 / (5.0 + 1e-6);  // the 1e-6 guards a zero norm (PyTorch's form)
  // Float products of small integers by one float scale: 1 ulp, ~6e-8 relative.
  EXPECT_NEAR(f.a.g(0), 1 * scale, 1e-7);
  EXPECT_NEAR(f.a.g(1), 2 * scale, 1e-7);
  EXPECT_NEAR(f.b.g(3), 2 * scale, 1e-7);
  EXPECT_NEAR(f.tied.g(0), 7 * scale, 1e-6);  // the copy scales with its original: they stay equal
  EXPECT_NEAR(global_grad_norm<float>(f.params(), f.grid), 1.0, 1e-6);
}

}  // namespace
}  // namespace alibi
