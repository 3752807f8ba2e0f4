// Generation under tensor parallelism equals one process: each rank caches its own heads
// and forms their ALiBi slopes (or T5 columns) from the global head index, the vocabulary
// shards' logits are gathered, and the sampled tokens agree. Every rank also builds the
// whole model alone (the same weights: initialisation is keyed by global index) as the
// reference. Runs at every world size whose tp divides the heads (2, 4 and 8 here).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <string>
#include <vector>

#include "parallel/grid.h"
#include "train/generate.h"
#include "tests/mpi/world.h"

namespace alibi {
namespace {

using test::world_size;

ModelConfig model_for(const char* position) {
  ModelConfig cfg;
  cfg.vocab = 37;  // not a multiple of tp: uneven vocabulary shards
  cfg.layers = 2;
  cfg.channels = 64;
  cfg.heads = 8;   // HS = 8
  cfg.ffn = 64;
  cfg.seq_len = 8;
  cfg.max_positions = 64;
  cfg.position = parse_enum<PositionMethod>(position);
  return cfg;
}

// The same change on every layout: weights scaled up from GPT-2's init so attention is far
// from uniform, and the T5 table (zero at init) a function of (bucket, global head).
void sharpen(Model<float>& model) {
  for (const ParamRef& p : model.parameters()) {
    float* v = p.value->data<float>();
    if (p.name == "position.t5_bias") {
      const int NH = static_cast<int>(p.value->dim(1)), h0 = model.blocks[0].attn.shape().head_offset;
      for (int64_t b = 0; b < p.value->dim(0); ++b)
        for (int h = 0; h < NH; ++h) v[b * NH + h] = static_cast<float>(std::sin(0.7 * b + 1.3 * (h0 + h)));
    } else if (p.value->ndim() == 2) {
      for (int64_t i = 0; i < p.value->numel(); ++i) v[i] *= 15.0f;
    }
    p.value->bump_version();  // written in place (layers/bf16_copy.h)
  }
}

// Logits of each position, decoding a prompt of 5 and then one token at a time; full
// vocabulary on every rank.
std::vector<float> decode_logits(Model<float>& model, const std::vector<int32_t>& tokens) {
  KvCache cache = model.make_cache(static_cast<int64_t>(tokens.size()));
  const int P = 5;
  std::vector<float> out;
  const Tensor& prompt = model.forward_cached(tokens.data(), P, cache, P);
  const int64_t V_local = prompt.dim(1);
  for (int r = 0; r < P; ++r) {
    const Tensor row = prompt.slice(r, r + 1);
    const std::vector<float> full = gather_logits(model, row.view({1, V_local}));
    out.insert(out.end(), full.begin(), full.end());
  }
  for (size_t t = P; t < tokens.size(); ++t) {
    const std::vector<float> full = gather_logits(model, model.forward_cached(&tokens[t], 1, cache));
    out.insert(out.end(), full.begin(), full.end());
  }
  return out;
}

double max_relative_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double scale = 1e-30, worst = 0;
  for (float r : ref) scale = std::max(scale, std::abs(static_cast<double>(r)));
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - ref[i]));
  return worst / scale;
}

TEST(GenerateTp, DecodeAndSamplingEqualOneProcess) {
  const int tp = world_size();
  if (8 % tp != 0) GTEST_SKIP() << "tp " << tp << " does not divide 8 heads";
  std::vector<int32_t> tokens;
  for (int i = 0; i < 64; ++i) tokens.push_back((i * 11 + 3) % 37);  // 8x the training length
  for (const char* position : {"alibi", "rotary", "t5", "none", "sinusoidal", "learned"}) {
    SCOPED_TRACE(std::string(position) + " at tp " + std::to_string(tp));
    const ModelConfig cfg = model_for(position);
    const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {tp, 1, 1}, cfg);
    Model<float> dist(cfg, 5, grid);
    Model<float> single(cfg, 5);
    sharpen(dist);
    sharpen(single);
    const std::vector<float> got = decode_logits(dist, tokens);
    const std::vector<float> one = decode_logits(single, tokens);
    single.forward(tokens.data(), nullptr, 1, static_cast<int>(tokens.size()));
    const std::vector<float> full(single.logits().data<float>(), single.logits().data<float>() + single.logits().numel());
    // TP splits the inner sums of the projections and the vocabulary; float rounding of
    // O(1-10) logits stays ~1e-6 of the largest. A slope from a local head index, or a T5
    // column of another head, moves them by O(0.1).
    EXPECT_LE(max_relative_error(got, one), 1e-5) << "tp decode against one process's decode";
    EXPECT_LE(max_relative_error(got, full), 1e-5) << "tp decode against one process's full forward";

    // Sampling: the same tokens on every rank and as one process.
    GenerateOptions o;
    o.max_new_tokens = 24;
    o.sampling.temperature = 1.0;
    o.sampling.top_k = 20;
    o.sampling.top_p = 0.95;
    o.sampling.seed = 3;
    const GenerateResult r = generate(dist, {1, 2, 3}, o, 36);
    const GenerateResult s = generate(single, {1, 2, 3}, o, 36);
    EXPECT_EQ(r.tokens, s.tokens);
    std::vector<int32_t> root = r.tokens;
    grid.tp().broadcast(root.data(), static_cast<int64_t>(root.size()), 0);
    EXPECT_EQ(r.tokens, root) << "ranks disagree on the tokens";
  }
}

}  // namespace
}  // namespace alibi
