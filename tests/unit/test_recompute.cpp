// Activation recomputation (layers/recompute.h): backward with --recompute selective or
// full must give the gradients of a run that kept every activation, bit for bit (the same
// kernels on the same inputs in the same order), for every position method; and a
// recomputing model must keep less after its forward.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "layers/model.h"
#include "runtime/allocator.h"
#include "tests/compare.h"

namespace alibi {
namespace {

ModelConfig small_config(PositionMethod position, bool tied) {
  ModelConfig cfg;
  cfg.layers = 3;
  cfg.channels = 16;
  cfg.heads = 4;
  cfg.vocab = 23;
  cfg.seq_len = 20;  // not a multiple of anything the kernels tile by
  cfg.position = position;
  cfg.tie_embeddings = tied;
  cfg.max_positions = 32;
  return cfg;
}

struct Grads {
  std::vector<double> losses;
  std::vector<std::vector<float>> grads;  // in parameter order
};

// Two micro-batches accumulated (forward, backward, forward, backward), so a block that
// recomputes twice, from its second input, is covered too.
Grads train_two_micro_batches(const ModelConfig& cfg, Recompute mode) {
  Model<float> model(cfg, 77);
  model.set_recompute(mode);
  zero_grads(model.parameters());
  const int B = 2, T = cfg.seq_len;
  Grads run;
  for (int micro = 0; micro < 2; ++micro) {
    std::vector<int32_t> tokens(B * T), targets(B * T);
    for (int i = 0; i < B * T; ++i) {
      tokens[i] = (i * 7 + micro * 5) % cfg.vocab;
      targets[i] = i % 9 == 4 ? -1 : (i * 11 + micro) % cfg.vocab;  // some targets unscored
    }
    run.losses.push_back(model.forward(tokens.data(), targets.data(), B, T));
    model.backward(1.0f / static_cast<float>(B * T));
  }
  for (const ParamRef& p : model.parameters()) {
    const float* g = p.grad->data<float>();
    run.grads.emplace_back(g, g + p.grad->numel());
  }
  return run;
}

TEST(Recompute, SameGradientBitsForEveryPositionMethod) {
  for (const auto& [position, name] : EnumNames<PositionMethod>::values) {
    for (bool tied : {true, false}) {
      const ModelConfig cfg = small_config(position, tied);
      const Grads plain = train_two_micro_batches(cfg, Recompute::none);
      for (Recompute mode : {Recompute::selective, Recompute::full}) {
        SCOPED_TRACE(std::string(name) + (tied ? " tied" : " untied") + ", --recompute " + enum_name(mode));
        const Grads again = train_two_micro_batches(cfg, mode);
        EXPECT_EQ(again.losses, plain.losses);
        ASSERT_EQ(again.grads.size(), plain.grads.size());
        // Tolerance 0: recomputation reruns the same kernels on the same inputs.
        for (size_t k = 0; k < plain.grads.size(); ++k)
          test::expect_close_per_element("parameter " + std::to_string(k), again.grads[k], plain.grads[k], 0.0);
      }
    }
  }
}

TEST(Recompute, KeepsLessAfterForward) {
  const ModelConfig cfg = small_config(PositionMethod::alibi, true);
  const int B = 2, T = cfg.seq_len;
  std::vector<int32_t> tokens(B * T, 3), targets(B * T, 5);
  size_t kept[3] = {};
  for (Recompute mode : {Recompute::none, Recompute::selective, Recompute::full}) {
    Model<float> model(cfg, 77);
    model.set_recompute(mode);
    const size_t before = CpuAllocator::instance().stats().bytes_in_use;
    model.forward(tokens.data(), targets.data(), B, T);
    kept[static_cast<int>(mode)] = CpuAllocator::instance().stats().bytes_in_use - before;
  }
  EXPECT_LT(kept[1], kept[0]);
  EXPECT_LT(kept[2], kept[1]);
}

TEST(Recompute, ModeIsParsedByName) {
  EXPECT_EQ(parse_enum<Recompute>("full"), Recompute::full);
  try {
    parse_enum<Recompute>("partial");
    FAIL() << "an unknown mode must be an error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--recompute must be none, selective or full (got 'partial')");
  }
}

}  // namespace
}  // namespace alibi
