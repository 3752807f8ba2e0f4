// The bf16 working copies of the weights (layers/bf16_copy.h) under --matmul-precision bf16 on
// the CPU (oneDNN): a copy is remade exactly when its weight's storage version moves, once per
// optimizer step however many micro-batches accumulate (not once per product), and a model's
// products after a step see the stepped weights: the same loss, bit for bit, as a fresh model
// given those weights. Skipped in builds without oneDNN's bf16.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/blas.h"
#include "layers/bf16_copy.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "parallel/checkpoint.h"
#include "tests/random_vectors.h"
#include "tests/unit/plan_small_model.h"
#include "tests/unit/temp_dir.h"
#include "train/model_checkpoint.h"

namespace alibi {
namespace {

#define ALIBI_NEED_BF16()                    \
  if (!cpu::gemm_bf16_available()) GTEST_SKIP() << "this build's GEMM is " << cpu::gemm_library() << " (no bf16)"

std::vector<uint16_t> bits_of(const Bf16Copy& copy) {
  const uint16_t* b = copy.bits().data<uint16_t>();
  return {b, b + copy.bits().numel()};
}

std::vector<uint16_t> rounded(const Tensor& w) {
  std::vector<uint16_t> out(w.numel());
  cpu::to_bf16(out.data(), w.data<float>(), w.numel());
  return out;
}

TEST(Bf16Copy, RemadeWhenTheVersionMoves) {
  ALIBI_NEED_BF16();
  Tensor w = Tensor::empty({7, 5}, DType::f32);
  const std::vector<float> init = test::randn(35, 1);
  std::memcpy(w.data<float>(), init.data(), sizeof(float) * 35);
  Bf16Copy copy;
  const uint16_t* first = copy.of(w);
  EXPECT_EQ(copy.refreshes(), 1);
  EXPECT_EQ(bits_of(copy), rounded(w));
  EXPECT_EQ(copy.of(w), first);  // unchanged weights: the same copy, no conversion
  EXPECT_EQ(copy.refreshes(), 1);

  w.data<float>()[3] = 100.0f;  // written in place and announced
  w.bump_version();
  copy.of(w);
  EXPECT_EQ(copy.refreshes(), 2);
  EXPECT_EQ(bits_of(copy), rounded(w));

  Tensor other = w.clone();  // copy_from bumps by itself
  other.data<float>()[0] = -3.0f;
  w.copy_from(other);
  copy.of(w);
  EXPECT_EQ(copy.refreshes(), 3);
  EXPECT_EQ(bits_of(copy), rounded(w));

  const Tensor view = w.slice(0, 7);  // a view shares the storage and its version
  copy.of(view);
  EXPECT_EQ(copy.refreshes(), 3);
  copy.of(other);  // another storage: another version
  EXPECT_EQ(copy.refreshes(), 4);
}

ModelConfig small_config(bool tied) {
  ModelConfig cfg = test::small_config();  // L=3 C=8 NH=4 V=11 T=4
  cfg.tie_embeddings = tied;
  return cfg;
}

struct Batch {
  std::vector<int32_t> tokens, targets;
};

Batch batch(const ModelConfig& cfg, int B, int seed) {
  Batch b;
  for (int i = 0; i < B * cfg.seq_len; ++i) {
    b.tokens.push_back((i * 7 + seed * 3) % cfg.vocab);
    b.targets.push_back((i * 11 + seed) % cfg.vocab);
  }
  return b;
}

// Every Linear's copy and the head's, by name.
std::vector<std::pair<std::string, const Bf16Copy*>> copies(const Model<float>& model) {
  std::vector<std::pair<std::string, const Bf16Copy*>> out;
  for (size_t l = 0; l < model.blocks.size(); ++l) {
    const Block<float>& b = model.blocks[l];
    const std::string at = "blocks." + std::to_string(l);
    out.push_back({at + ".attn.qkv", &b.attn.qkv.weight_copy()});
    out.push_back({at + ".attn.proj", &b.attn.proj.weight_copy()});
    out.push_back({at + ".mlp.fc", &b.mlp.fc.weight_copy()});
    out.push_back({at + ".mlp.proj", &b.mlp.proj.weight_copy()});
  }
  out.push_back({"head", &model.head_copy()});
  return out;
}

// Three micro-batches a step (forward and backward each: 2 x 3 products read every weight),
// two steps: two conversions per weight, the first at the first product of each step.
TEST(Bf16Copy, OncePerOptimizerStep) {
  ALIBI_NEED_BF16();
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied head" : "untied head");
    const ModelConfig cfg = small_config(tied);
    Model<float> model(cfg, 5);
    model.to_device(Device::cpu, MatmulPrecision::bf16);
    AdamW<float> adam(model.parameters(), {});
    const int B = 2;
    for (int step = 1; step <= 2; ++step) {
      zero_grads(model.parameters());
      for (int micro = 0; micro < 3; ++micro) {
        const Batch b = batch(cfg, B, 3 * step + micro);
        model.forward(b.tokens.data(), b.targets.data(), B, cfg.seq_len);
        model.backward(1.0f / static_cast<float>(3 * B * cfg.seq_len));
      }
      for (const auto& [name, copy] : copies(model)) EXPECT_EQ(copy->refreshes(), step) << name;
      adam.step(1e-2f, 0.1f);
    }
  }
}

// After optimizer steps the products must read the stepped weights: the loss equals, bit for
// bit, that of a fresh model (fresh copies) given the same weights. A copy left stale by the
// step would give another loss (the step moves every weight by about lr). Likewise after a
// checkpoint is read into a model whose copies were made (the CPU reads in place).
TEST(Bf16Copy, ProductsSeeTheSteppedWeights) {
  ALIBI_NEED_BF16();
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied head" : "untied head");
    const ModelConfig cfg = small_config(tied);
    const int B = 2, T = cfg.seq_len;
    Model<float> trained(cfg, 9);
    trained.to_device(Device::cpu, MatmulPrecision::bf16);
    AdamW<float> adam(trained.parameters(), {});
    const Batch probe = batch(cfg, B, 100);
    const double before = trained.forward(probe.tokens.data(), probe.targets.data(), B, T);
    for (int step = 0; step < 2; ++step) {
      zero_grads(trained.parameters());
      const Batch b = batch(cfg, B, step);
      trained.forward(b.tokens.data(), b.targets.data(), B, T);
      trained.backward(1.0f / static_cast<float>(B * T));
      adam.step(1e-2f, 0.1f);
    }
    const double after = trained.forward(probe.tokens.data(), probe.targets.data(), B, T);

    Model<float> fresh(cfg, 123);  // other initial weights, overwritten below
    fresh.to_device(Device::cpu, MatmulPrecision::bf16);
    for (size_t i = 0; i < fresh.parameters().size(); ++i)
      fresh.parameters()[i].value->copy_from(*trained.parameters()[i].value);
    const double want = fresh.forward(probe.tokens.data(), probe.targets.data(), B, T);
    EXPECT_NE(after, before);  // the steps changed the loss
    EXPECT_EQ(after, want);

    test::TempDir dir;
    const std::string path = dir.file("step.h5");
    const GridCoord coord = trained.grid().coord();
    write_checkpoint(path, SelfCommunicator(), {}, CheckpointState{2, 0, 9},
                     stored_blocks(trained.parameters(), nullptr, coord), {}, {});
    Model<float> loaded(cfg, 456);
    loaded.to_device(Device::cpu, MatmulPrecision::bf16);
    EXPECT_NE(loaded.forward(probe.tokens.data(), probe.targets.data(), B, T), want);  // copies of its own weights
    load_model(path, loaded);
    EXPECT_EQ(loaded.forward(probe.tokens.data(), probe.targets.data(), B, T), want);
  }
}

// The activations that feed only products (the LayerNorms' and the GELU's outputs:
// layers/linear.h product_input_dtype) are kept in bf16 under bf16 precision. A Linear reading
// such an input must give the very bits it gives on the fp32 input rounded to it: the output,
// the input gradient and the weight gradient (whose dout is now rounded once for both
// products). A LayerNorm writing bf16 must write the products' rounding of its fp32 output.
Tensor tensor_of(const std::vector<float>& v, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::memcpy(t.data<float>(), v.data(), v.size() * sizeof(float));
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Bf16Activations, ProductsReadThemAsTheyWouldRoundThem) {
  ALIBI_NEED_BF16();
  const int64_t N = 37, IC = 48, OC = 40;
  Linear<float> linear("l", IC, OC, true, 0.5, 3);
  linear.precision = MatmulPrecision::bf16;
  const Tensor x = tensor_of(test::randn(N * IC, 1), {N, IC}), dout = tensor_of(test::randn(N * OC, 2), {N, OC});
  Tensor x16 = Tensor::empty({N, IC}, product_input_dtype<float>(MatmulPrecision::bf16));
  ASSERT_EQ(x16.dtype(), DType::u16);
  cpu::to_bf16(x16.data<uint16_t>(), x.data<float>(), N * IC);

  Tensor out = Tensor::empty({N, OC}, DType::f32), out16 = Tensor::empty({N, OC}, DType::f32);
  linear.forward(out, x);
  linear.forward(out16, x16);
  EXPECT_TRUE(same_bits(out, out16)) << "forward";

  Tensor dinp = Tensor::empty({N, IC}, DType::f32), dinp16 = Tensor::empty({N, IC}, DType::f32);
  linear.dweight.zero_();
  linear.dbias.zero_();
  linear.backward(&dinp, dout, x);
  const Tensor dw = linear.dweight.clone(), db = linear.dbias.clone();
  linear.dweight.zero_();
  linear.dbias.zero_();
  linear.backward(&dinp16, dout, x16);
  EXPECT_TRUE(same_bits(dinp, dinp16)) << "input gradient";
  EXPECT_TRUE(same_bits(dw, linear.dweight)) << "weight gradient";
  EXPECT_TRUE(same_bits(db, linear.dbias)) << "bias gradient";

  LayerNorm<float> ln("ln", IC, 5);
  Tensor y = Tensor::empty({N, IC}, DType::f32), y16 = Tensor::empty({N, IC}, DType::u16);
  Tensor mean = Tensor::empty({N}, DType::f32), rstd = Tensor::empty({N}, DType::f32);
  ln.forward(y, mean, rstd, x);
  ln.forward(y16, mean, rstd, x);
  EXPECT_EQ(std::vector<uint16_t>(y16.data<uint16_t>(), y16.data<uint16_t>() + N * IC), rounded(y)) << "layernorm";
}

}  // namespace
}  // namespace alibi
