// The LM head's vocabulary padding (Model::set_vocab_multiple; 64 on CUDA), checked on the
// CPU in double: a padded model gives the unpadded model's loss, logits and every
// parameter gradient, its padding logits are zero and never scored, the padding rows of the
// head and of its gradient stay zero, and the parameters keep their unpadded shapes (so a
// checkpoint written from either loads into the other). The reference is the same model
// without padding, whose cross-entropy never sees a padding column.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "layers/model.h"

namespace alibi {
namespace {

// Both models run the same fp64 arithmetic on the real columns; only BLAS's blocking over
// the extra GEMM rows may reorder a sum, a few ulps of the O(1) values: 1e-12 relative.
// Scoring one padding column (logit 0 among logits of size ~1) moves the loss by ~1e-2.
constexpr double kTol = 1e-12;

ModelConfig small_config(bool tied) {
  ModelConfig cfg;
  cfg.vocab = 37;  // not a multiple of 64: 27 padding rows
  cfg.layers = 2;
  cfg.channels = 16;
  cfg.heads = 4;
  cfg.ffn = 24;
  cfg.seq_len = 9;
  cfg.tie_embeddings = tied;
  return cfg;
}

class VocabPadding : public ::testing::TestWithParam<bool> {};

TEST_P(VocabPadding, SameLossAndGradientsAsUnpadded) {
  const ModelConfig cfg = small_config(GetParam());
  Model<double> plain(cfg, 7), padded(cfg, 7);
  padded.set_vocab_multiple(64);
  ASSERT_EQ(plain.head_rows(), 37);
  ASSERT_EQ(padded.head_rows(), 64);
  const int B = 2, T = cfg.seq_len, N = B * T;
  std::mt19937 gen(3);
  std::vector<int32_t> tokens(N), targets(N);
  for (int i = 0; i < N; ++i) {
    tokens[i] = static_cast<int32_t>(gen() % cfg.vocab);
    targets[i] = i % 4 == 1 ? -1 : static_cast<int32_t>(gen() % cfg.vocab);  // some not scored
  }
  targets[2] = cfg.vocab - 1;  // the last real row, beside the padding
  // Two micro-batches: gradients accumulate, so the padding rows must gain nothing twice.
  double loss_plain = 0, loss_padded = 0;
  for (int micro = 0; micro < 2; ++micro) {
    loss_plain = plain.forward(tokens.data(), targets.data(), B, T);
    loss_padded = padded.forward(tokens.data(), targets.data(), B, T);
    ASSERT_EQ(padded.logits().dim(1), 64);
    const double* lp = plain.logits().data<double>();
    const double* lq = padded.logits().data<double>();
    for (int n = 0; n < N; ++n) {
      for (int v = 0; v < cfg.vocab; ++v) ASSERT_NEAR(lq[n * 64 + v], lp[n * 37 + v], kTol) << "logit " << n << "," << v;
      for (int v = cfg.vocab; v < 64; ++v) ASSERT_EQ(lq[n * 64 + v], 0.0) << "padding logit " << n << "," << v;
    }
    EXPECT_NEAR(loss_padded, loss_plain, kTol * std::abs(loss_plain));
    plain.backward(0.5);
    padded.backward(0.5);
  }

  const ParameterList& a = plain.parameters();
  const ParameterList& b = padded.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].value->shape(), b[i].value->shape()) << a[i].name << ": parameters keep the unpadded V";
    const double* ga = a[i].grad->data<double>();
    const double* gb = b[i].grad->data<double>();
    for (int64_t k = 0; k < a[i].grad->numel(); ++k)
      ASSERT_NEAR(gb[k], ga[k], kTol * (1.0 + std::abs(ga[k]))) << a[i].name << " gradient element " << k;
  }
  const int64_t C = cfg.channels;
  const double* w = padded.padded_head().data<double>();
  const double* dw = padded.padded_head_grad().data<double>();
  for (int64_t k = cfg.vocab * C; k < 64 * C; ++k) {
    ASSERT_EQ(w[k], 0.0) << "padding weight element " << k;
    ASSERT_EQ(dw[k], 0.0) << "padding gradient element " << k;
  }
}

// A step whose backward goes non-finite (here an infinite LayerNorm gain) puts NaN into the
// head gradient's padding rows too (Inf * a zero padding column); the optimizer skips such a
// step, and Model::zero_grads must clear the padding with the rest, or the head's GEMM
// (which accumulates over all head_rows()) carries the NaN on into every later step.
TEST_P(VocabPadding, ZeroGradsClearsThePaddingAfterANonFiniteStep) {
  const ModelConfig cfg = small_config(GetParam());
  Model<double> model(cfg, 7), clean(cfg, 7);
  model.set_vocab_multiple(64);
  const int B = 2, T = cfg.seq_len, N = B * T;
  std::vector<int32_t> tokens(N), targets(N);
  for (int i = 0; i < N; ++i) tokens[i] = targets[i] = (5 * i + 1) % cfg.vocab;

  double* gain = model.ln_f.weight.data<double>();
  const double saved = gain[0];
  gain[0] = INFINITY;
  model.forward(tokens.data(), targets.data(), B, T);
  model.backward(1.0);
  const int64_t C = cfg.channels;
  const double* dw = model.padded_head_grad().data<double>();
  bool poisoned = false;
  for (int64_t k = cfg.vocab * C; k < 64 * C; ++k) poisoned |= !std::isfinite(dw[k]);
  ASSERT_TRUE(poisoned) << "the non-finite step should reach the padding rows (else this test shows nothing)";

  gain[0] = saved;
  model.zero_grads();
  for (Model<double>* m : {&model, &clean}) {
    m->forward(tokens.data(), targets.data(), B, T);
    m->backward(1.0);
  }
  for (int64_t k = cfg.vocab * C; k < 64 * C; ++k) ASSERT_EQ(dw[k], 0.0) << "padding gradient element " << k;
  const ParameterList& a = clean.parameters();
  const ParameterList& b = model.parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    const double* ga = a[i].grad->data<double>();
    const double* gb = b[i].grad->data<double>();
    for (int64_t k = 0; k < a[i].grad->numel(); ++k)
      ASSERT_NEAR(gb[k], ga[k], kTol * (1.0 + std::abs(ga[k]))) << a[i].name << " gradient element " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Head, VocabPadding, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "tied" : "untied"; });

}  // namespace
}  // namespace alibi
