// The layout plan of `alibi plan` (launch/plan.h): hand-computed counts for a small
// model, each parameter counted once over a DP replica for many layouts (uneven pipeline
// splits, V not divisible by tp), and the counts against the tensors real Blocks and
// Models allocate, per recompute mode; the auto pipeline split. The scaling study (--gpus)
// is tests/unit/test_plan_study.cpp.
#include <gtest/gtest.h>

#include <omp.h>

#include <string>

#include "launch/plan.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "parallel/comm.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "tests/unit/plan_small_model.h"

namespace alibi {
namespace {

using test::small_config;

// A TP group's rank and size for layer construction only: Blocks read rank() and size()
// to pick their shard; nothing here communicates (SelfCommunicator's collectives would be
// wrong for size > 1, but construction never calls them).
class ShapeOnlyTp : public SelfCommunicator {
 public:
  ShapeOnlyTp(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }

 private:
  int rank_, size_;
};


// L=3 C=8 NH=4 F=32 V=11 tied, tp=2 pp=2 dp=1, B=2 T=4 (N=8), grad-accum 3.
//   Stages: stage_layers(3, 2, .) = [0, 2) and [2, 3). Vocabulary: [0, 6) and [6, 11).
//   One block's TP shard (C/tp = 4, F/tp = 16):
//     ln1 2*8 = 16; qkv 3*4*8 + 3*4 = 108; proj 8*4 + 8 = 40; ln2 16;
//     fc 16*8 + 16 = 144; fc proj 8*16 + 8 = 136                           -> 460
//     of which replicated over TP: ln1, ln2, proj bias, fc proj bias = 6C = 48
//   Whole block (tp=1): 16 + 216 + 72 + 16 + 288 + 264 = 872 = 2*460 - 48.
//   parameter_count = V*C + L*872 + 2C (ln_f) = 88 + 2616 + 16 = 2720.
//   rank 0 (tp0 pp0): embedding 6*8 = 48 + blocks 2*460 = 920          -> 968
//   rank 1 (tp1 pp0): embedding 5*8 = 40 + 920                          -> 960
//   rank 2 (tp0 pp1): tied copy 48 + blocks 460 + ln_f 16                -> 524
//   rank 3 (tp1 pp1): tied copy 40 + 460 + 16                            -> 516
//   Once each: 968 + (960 - 96) + (524 - 48) + (516 - 40 - 64) = 968 + 864 + 476 + 412 = 2720.
//   Activations per block per micro-batch (elements): ln1_out, residual, ln2_out, branch
//     4*N*C = 256; LN mean/rstd 4N = 32; qkv 3*N*4 = 96; att N*4 = 32; lse 2*2*4 = 16;
//     fch, fch_gelu 2*N*16 = 256                                          -> 688
//   Stage 0 slot: 2*688 + residuals 3*N*C = 192 + dres N*C = 64 = 1632 elements = 6528 B;
//     in flight min(2 - 0, 3) = 2 -> 13056 B.
//   Stage 1 slot: 688 + 2*64 + 64 = 880 elements = 3520 B, plus the head: lnf_out 64,
//     lnf mean/rstd, losses, row_max 4N = 32, logits N*V_local (tp0: 48, tp1: 40) in fp32
//     and sum_exp, target_logit 2N doubles = 128 B: tp0 3520 + 144*4 + 128 = 4224 B,
//     tp1 3520 + 136*4 + 128 = 4192 B; in flight min(2 - 1, 3) = 1.
//   State: 16 B per local element (dp = 1: no DP buckets): rank 0 968*16 = 15488.
TEST(Plan, HandComputedSmallModel) {
  const ModelConfig cfg = small_config();
  ASSERT_EQ(cfg.parameter_count(), 2720);
  const std::vector<RankPlan> plan = plan_layout(cfg, {2, 2, 1}, /*micro_batch=*/2, /*grad_accum=*/3);
  ASSERT_EQ(plan.size(), 4u);

  const int64_t local[4] = {968, 960, 524, 516};
  const int64_t tied[4] = {0, 0, 48, 40};
  const int64_t activations[4] = {13056, 13056, 4224, 4192};
  const int in_flight[4] = {2, 2, 1, 1};
  for (int r = 0; r < 4; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_EQ(plan[r].rank, r);
    EXPECT_EQ(plan[r].coord.tp_rank, r % 2);
    EXPECT_EQ(plan[r].coord.pp_rank, r / 2);
    EXPECT_EQ(plan[r].params.local(), local[r]);
    EXPECT_EQ(plan[r].params.tied_copy, tied[r]);
    EXPECT_EQ(plan[r].in_flight, in_flight[r]);
    EXPECT_EQ(plan[r].activation_bytes, activations[r]);
    EXPECT_EQ(plan[r].state_bytes, 16 * local[r]);
  }
  EXPECT_EQ(plan[0].layers, std::make_pair(0, 2));
  EXPECT_EQ(plan[2].layers, std::make_pair(2, 3));
  EXPECT_EQ(plan[1].heads, std::make_pair(2, 4));
  EXPECT_EQ(plan[0].vocab, std::make_pair(int64_t{0}, int64_t{6}));
  EXPECT_EQ(plan[3].vocab, std::make_pair(int64_t{6}, int64_t{11}));
  EXPECT_EQ(plan[3].params.replicated, 48 + 16);
  EXPECT_EQ(replica_parameter_count(plan), 2720);

  // dp = 2: the DP buckets add a fifth copy of every local element; ranks 2, 3 are dp 1.
  const std::vector<RankPlan> dp2 = plan_layout(cfg, {2, 2, 2}, 2, 3);
  ASSERT_EQ(dp2.size(), 8u);
  EXPECT_EQ(dp2[0].state_bytes, 20 * 968);
  EXPECT_EQ(dp2[2].coord.dp_rank, 1);
  EXPECT_EQ(dp2[2].params.local(), 968);
  EXPECT_EQ(replica_parameter_count(dp2), 2720);
}

// A replica's ranks hold every parameter once, for layouts with uneven pipeline splits
// (L % pp != 0), V not divisible by tp, heads not a power of two, tied and untied heads.
TEST(Plan, ReplicaSumsToParameterCount) {
  std::vector<ModelConfig> configs;
  configs.push_back(small_config());
  ModelConfig odd;  // L=7 C=48 NH=12 F=96 V=101, untied
  odd.layers = 7;
  odd.channels = 48;
  odd.heads = 12;
  odd.ffn = 96;
  odd.vocab = 101;
  odd.tie_embeddings = false;
  configs.push_back(odd);
  odd.position = PositionMethod::learned;  // a table on the first stage, whole on every TP rank
  odd.max_positions = 200;
  configs.push_back(odd);
  ModelConfig bytes;  // L=5 C=16 NH=8 V=257 (byte-level), tied
  bytes.layers = 5;
  bytes.channels = 16;
  bytes.heads = 8;
  bytes.vocab = 257;
  configs.push_back(bytes);
  int checked = 0;
  for (const ModelConfig& cfg : configs) {
    for (int tp : {1, 2, 3, 4, 6})
      for (int pp : {1, 2, 3, 4, 5})
        for (int dp : {1, 2}) {
          if (cfg.heads % tp != 0 || cfg.ffn_width() % tp != 0 || cfg.layers < pp) continue;
          SCOPED_TRACE("L=" + std::to_string(cfg.layers) + " tp=" + std::to_string(tp) + " pp=" +
                       std::to_string(pp) + " dp=" + std::to_string(dp));
          const std::vector<RankPlan> plan = plan_layout(cfg, {tp, pp, dp}, 1, 4);
          EXPECT_EQ(replica_parameter_count(plan), cfg.parameter_count());
          // Stages tile the layers, TP ranks tile the heads and the vocabulary.
          int layers = 0;
          int64_t vocab = 0;
          for (const RankPlan& r : plan) {
            if (r.coord.tp_rank == 0 && r.coord.dp_rank == 0) layers += r.layers.second - r.layers.first;
            if (r.coord.pp_rank == 0 && r.coord.dp_rank == 0) vocab += r.vocab.second - r.vocab.first;
          }
          EXPECT_EQ(layers, cfg.layers);
          EXPECT_EQ(vocab, cfg.vocab);
          ++checked;
        }
  }
  EXPECT_GT(checked, 40);
}

// The counts against real allocations: each rank's blocks built as Model builds them
// (its heads, its F columns via a TP communicator of the layout's size), its embedding,
// ln_f and lm_head shards; and whole Models at tp = pp = 1.
int64_t numel_sum(const ParameterList& params, int64_t* replicated) {
  int64_t n = 0;
  for (const ParamRef& p : params) {
    n += p.value->numel();
    if (p.sharding.replicated) *replicated += p.value->numel();
  }
  return n;
}

TEST(Plan, CountsMatchRealLayers) {
  ModelConfig cfg;  // L=5 C=24 NH=6 F=48 V=53, untied: every part present, nothing divides evenly
  cfg.layers = 5;
  cfg.channels = 24;
  cfg.heads = 6;
  cfg.ffn = 48;
  cfg.vocab = 53;
  for (bool tied : {true, false}) {
    cfg.tie_embeddings = tied;
    for (int tp : {1, 2, 3, 6})
      for (int pp : {1, 2, 3}) {
        const GridShape shape{tp, pp, 1};
        const std::vector<RankPlan> plan = plan_layout(cfg, shape, 1, 1);
        for (const RankPlan& r : plan) {
          SCOPED_TRACE("tied=" + std::to_string(tied) + " tp=" + std::to_string(tp) + " pp=" + std::to_string(pp) +
                       " rank " + std::to_string(r.rank));
          const ShapeOnlyTp comm(r.coord.tp_rank, tp);
          AttentionShape attn;
          attn.C = cfg.channels;
          attn.NH = cfg.heads / tp;
          attn.head_offset = attn.NH * r.coord.tp_rank;
          attn.n_heads_total = cfg.heads;
          ParameterList params;
          std::vector<Block<float>> blocks;
          blocks.reserve(r.layers.second - r.layers.first);
          for (int l = r.layers.first; l < r.layers.second; ++l) {
            blocks.emplace_back("blocks." + std::to_string(l), attn, cfg.ffn_width(), cfg.layers, 1, comm);
            blocks.back().collect(params);
          }
          LayerNorm<float> ln_f;
          Linear<float> lm_head;
          const auto [v0, v1] = shard_range(cfg.vocab, tp, r.coord.tp_rank);
          if (r.head_stage) {
            ln_f = LayerNorm<float>("ln_f", cfg.channels, 1);
            ln_f.collect(params);
            if (!tied) {
              lm_head = Linear<float>("lm_head", cfg.channels, v1 - v0, false, 0.02, 1,
                                      Sharding::rows({cfg.vocab, cfg.channels}, v0), Sharding::range(cfg.vocab, v0));
              lm_head.collect(params);
            }
          }
          int64_t replicated = 0;
          const int64_t allocated = numel_sum(params, &replicated);
          EXPECT_EQ(r.params.blocks + r.params.head, allocated);
          EXPECT_EQ(r.params.replicated, replicated);
          const bool embedding_here = r.embedding_stage || (r.head_stage && tied);  // as Model decides
          EXPECT_EQ(r.params.embedding + r.params.tied_copy, embedding_here ? (v1 - v0) * cfg.channels : 0);
        }
      }
  }
}

TEST(Plan, CountsMatchWholeModel) {
  for (bool tied : {true, false})
    for (const char* position : {"alibi", "none", "sinusoidal", "learned"}) {
      SCOPED_TRACE(std::string(position) + (tied ? " tied" : " untied"));
      ModelConfig cfg = small_config();
      cfg.vocab = 257;
      cfg.tie_embeddings = tied;
      cfg.position = parse_enum<PositionMethod>(position);
      cfg.max_positions = 9;  // learned: 9 rows of C, more than T = 4
      const Model<float> model(cfg, 1234, ProcessGrid::single());
      int64_t replicated = 0;
      const int64_t allocated = numel_sum(model.parameters(), &replicated);
      const std::vector<RankPlan> plan = plan_layout(cfg, {1, 1, 1}, 1, 1);
      EXPECT_EQ(plan[0].params.local(), allocated);
      EXPECT_EQ(plan[0].params.tied_copy, 0);
      EXPECT_EQ(allocated, cfg.parameter_count());
    }
}

// The memory estimate against the allocator's count of bytes in use: a Model's values
// and grads, AdamW's m and v, and one micro-batch's kept activations after a forward.
// Every tensor here is a multiple of 64 bytes (C = 16 floats, N = 32), so the allocator's
// 64-byte rounding adds nothing and the counts must agree exactly.
void check_memory(const char* position) {
  SCOPED_TRACE(position);
  ModelConfig cfg;
  cfg.layers = 3;
  cfg.channels = 16;
  cfg.heads = 4;
  cfg.vocab = 11;
  cfg.seq_len = 16;
  cfg.position = parse_enum<PositionMethod>(position);
  const int B = 2, T = cfg.seq_len;
  const RankPlan plan = plan_layout(cfg, {1, 1, 1}, B, 1).at(0);
  CpuAllocator& alloc = CpuAllocator::instance();
  const size_t before = alloc.stats().bytes_in_use;
  Model<float> model(cfg, 1);
  const size_t with_model = alloc.stats().bytes_in_use;
  EXPECT_EQ(with_model - before, plan.state_bytes / 2);  // values and grads
  AdamW<float> adam(model.parameters(), {0.9f, 0.95f, 1e-8f});
  const size_t with_adam = alloc.stats().bytes_in_use;
  EXPECT_EQ(with_adam - before, plan.state_bytes);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) tokens[i] = targets[i] = (i * 7) % cfg.vocab;
  model.forward(tokens.data(), targets.data(), B, T);
  EXPECT_EQ(alloc.stats().bytes_in_use - with_adam, plan.activation_bytes);
}

TEST(Plan, MemoryMatchesAllocator) {
  for (const char* position : {"alibi", "learned", "sinusoidal"}) check_memory(position);
}

// Each --recompute mode: the activations kept after a forward, exactly; and what the
// caching allocator holds after the backward (in use + cached, which is what the process
// keeps of it), against state + activations + scratch. Held may exceed the plan by the
// attention kernel's per-thread tiles (plan.h leaves them out): 21 KB forward and 50 KB
// backward a thread here, less than the smallest part of the scratch (selective's
// recomputed attention output, 128 KiB), so a part left out of the plan fails.
TEST(Plan, MemoryOfEachRecomputeModeMatchesAllocator) {
  ModelConfig cfg;
  cfg.layers = 3;
  cfg.channels = 64;
  cfg.heads = 4;
  cfg.vocab = 112;
  cfg.seq_len = 64;
  const int B = 8, T = cfg.seq_len;
  CpuAllocator& alloc = CpuAllocator::instance();
  auto held = [&] { return alloc.stats().bytes_in_use + alloc.stats().bytes_cached; };
  int64_t totals[3] = {};
  for (Recompute mode : {Recompute::none, Recompute::selective, Recompute::full}) {
    SCOPED_TRACE(enum_name(mode));
    const RankPlan plan = plan_layout(cfg, {1, 1, 1}, B, 1, mode).at(0);
    alloc.release_cache();
    const size_t before = alloc.stats().bytes_in_use, held_before = held();
    {
      Model<float> model(cfg, 1);
      model.set_recompute(mode);
      AdamW<float> adam(model.parameters(), {0.9f, 0.95f, 1e-8f});
      const size_t with_adam = alloc.stats().bytes_in_use;
      std::vector<int32_t> tokens(B * T), targets(B * T);
      for (int i = 0; i < B * T; ++i) tokens[i] = targets[i] = (i * 7) % cfg.vocab;
      model.forward(tokens.data(), targets.data(), B, T);
      EXPECT_EQ(alloc.stats().bytes_in_use - with_adam, plan.activation_bytes);
      model.backward(1.0f);
      const int64_t got = static_cast<int64_t>(held() - held_before);
      EXPECT_GE(got, plan.total_bytes());
      EXPECT_LE(got, plan.total_bytes() + int64_t{80} * 1024 * omp_get_max_threads());
      EXPECT_GE(alloc.stats().bytes_in_use, before);
    }
    totals[static_cast<int>(mode)] = plan.total_bytes();
  }
  EXPECT_LT(totals[1], totals[0]);
  EXPECT_LT(totals[2], totals[1]);
}

// --pp-split auto on the bench model (C=512, L=8, T=512, V=8192): the LM head's 6 V C
// FLOPs per token are 1.14 blocks' (6 x 12 C^2 + 12 T C), so an even 4, 4 leaves the last
// stage at 5.14 blocks against 4; 5, 3 makes the slowest 5 (the first).
TEST(Plan, AutoSplitBalancesTheBenchModel) {
  ModelConfig cfg;
  cfg.layers = 8;
  cfg.channels = 512;
  cfg.heads = 8;
  cfg.seq_len = 512;
  cfg.vocab = 8192;
  const StageCosts c = stage_costs(cfg, Recompute::none);
  EXPECT_NEAR(c.head / c.block, 1.14, 0.01);
  EXPECT_EQ(pipeline_split(cfg, 2, "auto", Recompute::none), (std::vector<int>{5, 3}));
  EXPECT_EQ(pipeline_split(cfg, 3, "auto", Recompute::none), (std::vector<int>{3, 3, 2}));
  EXPECT_EQ(pipeline_split(cfg, 1, "auto", Recompute::none), std::vector<int>{});
  EXPECT_EQ(pipeline_split(cfg, 2, "4,4", Recompute::none), (std::vector<int>{4, 4}));
  // Full recomputation makes blocks dearer (a forward again, less the MLP projection).
  EXPECT_NEAR(stage_costs(cfg, Recompute::full).block / c.block, 4.0 / 3.0 - 2.0 * 2048 * 512 / c.block, 1e-12);
  const std::vector<RankPlan> plan = plan_layout(cfg, {1, 2, 1, {5, 3}}, 2, 4);
  EXPECT_EQ(plan[0].layers, std::make_pair(0, 5));
  EXPECT_EQ(plan[1].layers, std::make_pair(5, 8));
  for (const char* bad : {"4;4", "x", "4,", "", "-1,9"}) {
    try {
      pipeline_split(cfg, 2, bad, Recompute::none);
      ADD_FAILURE() << bad << " must be an error";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()),
                "--pp-split must be auto or the blocks of each pipeline stage, e.g. 3,3,2 (got '" + std::string(bad) + "')");
    }
  }
}

TEST(Plan, BadLayoutsNameTheEquation) {
  ModelConfig cfg;  // L=4 C=256 NH=8 F=1024
  auto message = [&](const GridShape& g, int B = 1, int M = 1) -> std::string {
    try {
      plan_layout(cfg, g, B, M);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message({3, 1, 1}).find("NH % tp"), std::string::npos);
  EXPECT_NE(message({1, 5, 1}).find("L >= pp"), std::string::npos);
  EXPECT_NE(message({2, 2, 0}).find("--dp"), std::string::npos);
  EXPECT_NE(message({1, 1, 1}, 0).find("--micro-batch"), std::string::npos);
  cfg.position = PositionMethod::t5;
  EXPECT_NE(message({1, 1, 1}).find("--position t5"), std::string::npos);
  cfg.position = PositionMethod::alibi;
  cfg.ffn = 1001;
  EXPECT_NE(message({2, 1, 1}).find("F % tp"), std::string::npos);
}

}  // namespace
}  // namespace alibi
