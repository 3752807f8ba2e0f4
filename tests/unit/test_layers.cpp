// Every layer's hand-written backward against central finite differences in double, and
// the whole model's, for awkward shapes: T not a multiple of the attention block, 12
// heads (not a power of two), tied and untied heads. Also: no T x T buffer is allocated.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "layers/model.h"
#include "parallel/comm.h"
#include "runtime/allocator.h"

namespace alibi {
namespace {

// Central differences in double with h = 1e-5: truncation error ~h^2 |f'''| ~ 1e-10, and
// rounding error ~eps_machine |f| / h ~ 2e-11 |f| (more where the loss sums hundreds of
// terms), so the absolute tolerance scales with |f| and the relative one, 1e-6, leaves
// margin on both while catching any real bug (a wrong term changes a gradient by O(1)).
constexpr double kRelTol = 1e-6;
constexpr double kAbsTolPerUnitLoss = 1e-9;
constexpr double kStep = 1e-5;

const SelfCommunicator kNoTp;  // layers unsharded: every TP collective is the identity

Tensor random_tensor(const Shape& shape, std::mt19937_64& gen, double scale = 1.0) {
  Tensor t = Tensor::empty(shape, DType::f64);
  std::normal_distribution<double> dist(0.0, scale);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a.data<double>()[i] * b.data<double>()[i];
  return s;
}

// Checks d(loss)/d(x) for up to `samples` elements of x (all when x is small) against the
// analytic gradient `grad`, where loss() recomputes the scalar from scratch.
void expect_gradient(const std::string& what, Tensor& x, const Tensor& grad,
                     const std::function<double()>& loss, int samples = 12) {
  double* xp = x.data<double>();
  const double* gp = grad.data<double>();
  const int64_t n = x.numel();
  const int64_t stride = std::max<int64_t>(1, n / samples);
  for (int64_t i = 0; i < n; i += stride) {
    const double saved = xp[i];
    xp[i] = saved + kStep;
    const double up = loss();
    xp[i] = saved - kStep;
    const double down = loss();
    xp[i] = saved;
    const double numeric = (up - down) / (2 * kStep);
    const double abs_tol = kAbsTolPerUnitLoss * (1.0 + std::abs(up));
    EXPECT_NEAR(gp[i], numeric, abs_tol + kRelTol * std::abs(numeric)) << what << " element " << i;
  }
}

TEST(LayerGrad, Linear) {
  std::mt19937_64 gen(1);
  const int64_t N = 7, IC = 5, OC = 3;
  Linear<double> lin("lin", IC, OC, true, 0.5, 1);
  Tensor x = random_tensor({N, IC}, gen), r = random_tensor({N, OC}, gen);
  Tensor out = Tensor::empty({N, OC}, DType::f64), dx = Tensor::empty({N, IC}, DType::f64);
  auto loss = [&] { lin.forward(out, x); return dot(out, r); };
  loss();
  lin.backward(&dx, r, x);
  expect_gradient("dx", x, dx, loss);
  expect_gradient("dweight", lin.weight, lin.dweight, loss);
  expect_gradient("dbias", lin.bias, lin.dbias, loss);
}

TEST(LayerGrad, LayerNorm) {
  std::mt19937_64 gen(2);
  const int64_t N = 6, C = 13;
  LayerNorm<double> ln("ln", C, 1);
  ln.weight = random_tensor({C}, gen);
  ln.bias = random_tensor({C}, gen);
  Tensor x = random_tensor({N, C}, gen, 2.0), r = random_tensor({N, C}, gen);
  Tensor out = Tensor::empty({N, C}, DType::f64), mean = Tensor::empty({N}, DType::f64),
         rstd = Tensor::empty({N}, DType::f64), dx = Tensor::zeros({N, C}, DType::f64);
  auto loss = [&] { ln.forward(out, mean, rstd, x); return dot(out, r); };
  loss();
  ln.backward(dx, r, x, mean, rstd);
  expect_gradient("dx", x, dx, loss);
  expect_gradient("dweight", ln.weight, ln.dweight, loss);
  expect_gradient("dbias", ln.bias, ln.dbias, loss);
}

struct AttnCase {
  int B, T, C, NH;
  PositionBias bias;
};

class AttentionGrad : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttentionGrad, MatchesFiniteDifferences) {
  const AttnCase c = GetParam();
  std::mt19937_64 gen(3);
  AttentionShape shape{c.C, c.NH, 0, c.NH, c.bias};
  // A larger init than GPT-2's 0.02 so the scores are far from uniform and ALiBi matters.
  Attention<double> attn("attn", shape, 0.5, 7, kNoTp);
  attn.qkv.weight = random_tensor(attn.qkv.weight.shape(), gen, 0.5);
  attn.qkv.bias = random_tensor(attn.qkv.bias.shape(), gen, 0.1);
  Tensor x = random_tensor({c.B, c.T, c.C}, gen), r = random_tensor({c.B, c.T, c.C}, gen);
  Tensor out = Tensor::empty({c.B, c.T, c.C}, DType::f64), dx = Tensor::empty({c.B, c.T, c.C}, DType::f64);
  auto loss = [&] { attn.forward(out, x, c.B, c.T); return dot(out, r); };
  loss();
  attn.backward(dx, r, x);
  expect_gradient("dx", x, dx, loss, 24);
  expect_gradient("dqkv.weight", attn.qkv.weight, attn.qkv.dweight, loss, 24);
  expect_gradient("dqkv.bias", attn.qkv.bias, attn.qkv.dbias, loss);
  expect_gradient("dproj.weight", attn.proj.weight, attn.proj.dweight, loss);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionGrad,
    ::testing::Values(AttnCase{2, 5, 24, 12, PositionBias::alibi},   // 12 heads, HS 2
                      AttnCase{1, 67, 16, 4, PositionBias::alibi},   // T past one 64-block, not a multiple
                      AttnCase{2, 9, 16, 2, PositionBias::none},
                      AttnCase{1, 1, 8, 1, PositionBias::alibi}),
    [](const ::testing::TestParamInfo<AttnCase>& info) {
      const AttnCase& c = info.param;
      return "B" + std::to_string(c.B) + "_T" + std::to_string(c.T) + "_C" + std::to_string(c.C) + "_NH" +
             std::to_string(c.NH) + (c.bias == PositionBias::alibi ? "_alibi" : "_none");
    });

TEST(LayerGrad, Mlp) {
  std::mt19937_64 gen(4);
  const int64_t N = 5, C = 6, F = 11;
  Mlp<double> mlp("mlp", C, F, 0.5, 3, kNoTp);
  mlp.fc.weight = random_tensor({F, C}, gen);
  Tensor x = random_tensor({N, C}, gen), r = random_tensor({N, C}, gen);
  Tensor out = Tensor::empty({N, C}, DType::f64), dx = Tensor::empty({N, C}, DType::f64);
  auto loss = [&] { mlp.forward(out, x); return dot(out, r); };
  loss();
  mlp.backward(dx, r, x);
  expect_gradient("dx", x, dx, loss);
  expect_gradient("fc.dweight", mlp.fc.weight, mlp.fc.dweight, loss);
  expect_gradient("fc.dbias", mlp.fc.bias, mlp.fc.dbias, loss);
  expect_gradient("proj.dweight", mlp.proj.weight, mlp.proj.dweight, loss);
}

TEST(LayerGrad, Block) {
  std::mt19937_64 gen(5);
  const int B = 2, T = 7, C = 24, NH = 12;
  AttentionShape shape{C, NH, 0, NH, PositionBias::alibi};
  Block<double> block("blocks.0", shape, 4 * C, 2, 11, kNoTp);
  block.attn.qkv.weight = random_tensor(block.attn.qkv.weight.shape(), gen, 0.5);
  Tensor x = random_tensor({B, T, C}, gen), r = random_tensor({B, T, C}, gen);
  Tensor out = Tensor::empty({B, T, C}, DType::f64);
  auto loss = [&] { block.forward(out, x, B, T); return dot(out, r); };
  loss();
  Tensor dres = r.clone();
  block.backward(dres);
  expect_gradient("dx", x, dres, loss, 24);
  ParameterList params;
  block.collect(params);
  for (const ParamRef& p : params) expect_gradient(p.name, *p.value, *p.grad, loss, 6);
}

struct ModelCase {
  int T, NH, C;
  bool tied;
  const char* position;
};

class ModelGrad : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelGrad, EveryParameterMatchesFiniteDifferences) {
  const ModelCase c = GetParam();
  ModelConfig cfg;
  cfg.vocab = 11;
  cfg.layers = 2;
  cfg.channels = c.C;
  cfg.heads = c.NH;
  cfg.ffn = 20;
  cfg.seq_len = c.T;
  cfg.tie_embeddings = c.tied;
  cfg.position = parse_enum<PositionMethod>(c.position);
  Model<double> model(cfg, 42);
  // Scale weights up from GPT-2's init so every path carries gradient well above the
  // finite-difference noise floor.
  std::mt19937_64 gen(6);
  for (const ParamRef& p : model.parameters()) {
    if (p.value->ndim() == 2) p.value->copy_from(random_tensor(p.value->shape(), gen, 0.3));
  }
  const int B = 2;
  std::vector<int32_t> tokens(B * c.T), targets(B * c.T);
  for (int i = 0; i < B * c.T; ++i) {
    tokens[i] = static_cast<int32_t>(gen() % cfg.vocab);
    targets[i] = i % 5 == 3 ? -1 : static_cast<int32_t>(gen() % cfg.vocab);  // some not scored
  }
  auto loss = [&] {
    const double sum = model.forward(tokens.data(), targets.data(), B, c.T);
    return sum / static_cast<double>(model.scored_targets());
  };
  loss();
  model.backward(1.0 / static_cast<double>(model.scored_targets()));
  for (const ParamRef& p : model.parameters()) expect_gradient(p.name, *p.value, *p.grad, loss, 5);
}

INSTANTIATE_TEST_SUITE_P(Configs, ModelGrad,
                         ::testing::Values(ModelCase{5, 12, 24, true, "alibi"},
                                           ModelCase{66, 4, 16, false, "alibi"},
                                           ModelCase{7, 2, 8, true, "none"},
                                           ModelCase{9, 4, 16, true, "sinusoidal"},
                                           ModelCase{9, 4, 16, false, "learned"},
                                           ModelCase{70, 4, 16, true, "rotary"},
                                           ModelCase{70, 12, 24, true, "t5"}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           const ModelCase& c = info.param;
                           return "T" + std::to_string(c.T) + "_NH" + std::to_string(c.NH) + "_C" +
                                  std::to_string(c.C) + (c.tied ? "_tied_" : "_untied_") + c.position;
                         });

// Peak allocator bytes of one forward+backward of a small float model at length T.
size_t peak_bytes_for(int T) {
  ModelConfig cfg;
  cfg.vocab = 257;
  cfg.layers = 2;
  cfg.channels = 64;
  cfg.heads = 4;
  cfg.seq_len = T;
  CpuAllocator& alloc = CpuAllocator::instance();
  const size_t before = alloc.stats().bytes_in_use;
  alloc.reset_peak();
  {
    Model<float> model(cfg, 1);
    std::vector<int32_t> tokens(T), targets(T);
    for (int i = 0; i < T; ++i) tokens[i] = targets[i] = (i * 7) % 257;
    model.forward(tokens.data(), targets.data(), 1, T);
    model.backward(1.0f / T);
  }
  const AllocatorStats s = alloc.stats();
  // The largest O(T) buffer is the logits, T x V floats (V = 257 ~ T/4 here); any T x T
  // float buffer would be at least twice that.
  EXPECT_LT(s.largest_block, size_t(T) * T * sizeof(float) / 2) << "a buffer of ~T x T elements at T=" << T;
  return s.peak_bytes - before;
}

TEST(ModelMemory, NoTxTBufferAndLinearGrowth) {
  const size_t p1 = peak_bytes_for(1024);
  const size_t p2 = peak_bytes_for(2048);
  // Everything the model holds is O(T) (activations, logits, lse) plus O(1) weights, so
  // doubling T at most doubles the peak; a T x T score matrix would quadruple its part.
  // 2.1 allows for allocator rounding.
  EXPECT_LT(static_cast<double>(p2), 2.1 * static_cast<double>(p1)) << p1 << " -> " << p2;
  // And absolute: a single T x T float matrix at 2048 is 16 MiB.
  EXPECT_LT(p2, size_t(2048) * 2048 * sizeof(float) * 2);
}

// An evaluation's forward (for_backward false) computes the same losses while holding one
// block's activations at a time, and refuses a backward.
TEST(ModelMemory, EvalForwardKeepsOneBlockOfActivations) {
  ModelConfig cfg;
  cfg.vocab = 257;
  cfg.layers = 6;
  cfg.channels = 64;
  cfg.heads = 4;
  cfg.seq_len = 512;
  const int T = cfg.seq_len;
  std::vector<int32_t> tokens(T), targets(T);
  for (int i = 0; i < T; ++i) tokens[i] = targets[i] = (i * 7) % 257;
  CpuAllocator& alloc = CpuAllocator::instance();
  Model<float> model(cfg, 1);
  auto peak_of = [&](bool for_backward, double& loss) {
    model.forward_stage(0, tokens.data(), targets.data(), 1, T, false);  // slot buffers exist already
    alloc.release_cache();
    const size_t before = alloc.stats().bytes_in_use;
    alloc.reset_peak();
    loss = model.forward_stage(0, tokens.data(), targets.data(), 1, T, for_backward);
    return alloc.stats().peak_bytes - before;
  };
  double train_loss = 0, eval_loss = 0;
  const size_t train_peak = peak_of(true, train_loss);
  const size_t eval_peak = peak_of(false, eval_loss);
  EXPECT_EQ(eval_loss, train_loss);  // the same arithmetic, bit for bit
  // Per token a block keeps ~16 C floats; the training forward keeps all 6 blocks', the
  // evaluation one block's at a time: well under half.
  EXPECT_LT(static_cast<double>(eval_peak), 0.4 * static_cast<double>(train_peak)) << eval_peak << " vs " << train_peak;
  EXPECT_THROW(model.backward(1.0f / T), Error);
}

}  // namespace
}  // namespace alibi
