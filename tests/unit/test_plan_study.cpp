// The scaling study of `alibi plan --gpus` (launch/plan.h): the parameter counts of GPT-2
// small and the 1.3B model, GPU memory and step times computed by hand, recomputation, the
// pipeline bubble, and its bad input.
#include <gtest/gtest.h>

#include <string>

#include "launch/plan.h"
#include "runtime/error.h"
#include "tests/unit/plan_small_model.h"

namespace alibi {
namespace {

using test::small_config;

// ---- Scaling study ----------------------------------------------------------------------

// GPT-2 small (Radford et al. 2019) with its 1024 learned positions, tied head:
//   one block = 12 C^2 + 13 C = 12 * 589,824 + 9,984 = 7,087,872; x 12 = 85,054,464
//   embedding V C = 50,257 * 768 = 38,597,376; positions 1024 * 768 = 786,432; ln_f 2C = 1,536
//   total 124,439,808 (the published count).
// The 1.3B config (launch/configs/alibi_1.3b.ini: L=25 C=2048 NH=16 F=8192 V=50257, tied):
//   one block = 12 * 4,194,304 + 26,624 = 50,358,272; x 25 = 1,258,956,800
//   embedding 50,257 * 2048 = 102,926,336; ln_f 4,096 -> 1,361,887,232.
ModelConfig gpt2_small_learned() {
  ModelConfig cfg;
  cfg.layers = 12;
  cfg.channels = 768;
  cfg.heads = 12;
  cfg.ffn = 3072;
  cfg.vocab = 50257;
  cfg.seq_len = 1024;
  cfg.position = PositionMethod::learned;
  cfg.max_positions = 1024;
  return cfg;
}

ModelConfig alibi_1_3b() {
  ModelConfig cfg;
  cfg.layers = 25;
  cfg.channels = 2048;
  cfg.heads = 16;
  cfg.ffn = 8192;
  cfg.vocab = 50257;
  cfg.seq_len = 512;
  return cfg;
}

TEST(Plan, PublishedParameterCounts) {
  const ModelConfig gpt2 = gpt2_small_learned();
  EXPECT_EQ(gpt2.parameter_count(), 124439808);
  for (int tp : {1, 2, 3, 4})
    for (int pp : {1, 2, 5}) EXPECT_EQ(replica_parameter_count(plan_layout(gpt2, {tp, pp, 1}, 1, 1)), 124439808);
  const ModelConfig big = alibi_1_3b();
  EXPECT_EQ(big.parameter_count(), 1361887232);
  for (int tp : {1, 2, 4, 8})
    for (int pp : {1, 2, 4, 8}) EXPECT_EQ(replica_parameter_count(plan_layout(big, {tp, pp, 1}, 1, 1)), 1361887232);
  // A tied ALiBi model multiplies by every parameter: 6 P + 12 L T C FLOPs per token.
  EXPECT_DOUBLE_EQ(model_flops_per_token(big), 6.0 * 1361887232 + 12.0 * 25 * 512 * 2048);
}

// The small model of HandComputedSmallModel on the GPU path: tp=2 pp=2 dp=2, B=2 T=4
// (N = 8), M=3; C_local 4, F_local 16, NH_local 2, HS 2 (not a tensor-core size: the
// attention kernel prepares fp32 operands). bf16 = 2 B, fp32 = 4 B; W = cuBLAS's 32 MiB.
//   Activations: one block 4NC + 4N + 3 N C_local + N C_local + B NH_local T + 2 N F_local
//     = 288 + 96 + 48 + 256 = 688 el, of which ln1_out, ln2_out (2 N C) and fch_gelu (N F_local)
//     = 256 el are bf16: 432 x 4 + 256 x 2 = 2240 B; residual stream (L_local + 1 + 1) N C fp32:
//     stage 0 256 el = 1024 B, stage 1 192 el = 768 B; head (stage 1): lnf_out N C bf16 + (4N +
//     N x 64) fp32 (the shards' 6 and 5 vocabulary rows padded to 64) + 2N doubles = 128 + 2176
//     + 128 = 2432 B. Plain, in flight x (blocks + stream + head): stage 0 2 x (2 x 2240 + 1024)
//     = 11008; stage 1 2240 + 768 + 2432 = 5440. Recomputing: stage 0 2 x 1024 = 2048; stage 1
//     3200.
//   Scratch, the largest set at once: attention backward's d att 128 + d qkv 384 + prepared
//     q, k, v 384 + dO 128 + D 64 = 1088 B (beats the MLP's d gelu 512 + bf16 N F_local 256 =
//     768); recomputing adds the block's 2240 -> 3328; the head's d lnf 256 + bf16 N x 64 1024
//     = 1280 on stage 1. Each + W.
//   Weights: rank 0 (968 elements, 2 blocks) 968 x 4 + bf16 copies 2 x (4 C C_local + 2 C
//     F_local) = 768 el -> 3872 + 1536 = 5408; rank 4 (524: a block, ln_f, the tied copy of 6
//     rows) + 58 padding rows x C = 464: 988 x 4 + (384 + 64 x 8) x 2 = 3952 + 1792 = 5744.
//   Grads: rank 0 968 x 4 + buckets 968 x 4 = 7744; rank 4 988 x 4 + 524 x 4 = 6048. AdamW
//     8 B per element: 7744 and 4192.
//   Rank needing the most: rank 0, 5408 + 7744 + 7744 + 11008 + 1088 = 32992 + W plain,
//     26272 + W recomputing (rank 4: 22704 + W, 22512 + W).
TEST(Plan, GpuMemoryHandComputed) {
  const ModelConfig cfg = small_config();
  const GridShape shape{2, 2, 2};
  const std::vector<RankPlan> plan = plan_layout(cfg, shape, 2, 3);
  const int64_t W = int64_t{32} << 20;
  // Ranks 0, 1: stage 0, tp 0 and 1; ranks 4, 5: stage 1 (rank = tp + 2 (dp + 2 pp)).
  const int rank[4] = {0, 1, 4, 5};
  const int64_t plain[4] = {11008, 11008, 5440, 5440};
  const int64_t recompute[4] = {2048, 2048, 3200, 3200};
  const int64_t scratch[4] = {1088, 1088, 1280, 1280}, scratch_rc[4] = {3328, 3328, 3328, 3328};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE("rank " + std::to_string(rank[i]));
    EXPECT_EQ(gpu_activation_bytes(cfg, plan[rank[i]], 2, 2, false), plain[i]);
    EXPECT_EQ(gpu_activation_bytes(cfg, plan[rank[i]], 2, 2, true), recompute[i]);
    EXPECT_EQ(gpu_scratch_bytes(cfg, plan[rank[i]], 2, 2, false), scratch[i] + W);
    EXPECT_EQ(gpu_scratch_bytes(cfg, plan[rank[i]], 2, 2, true), scratch_rc[i] + W);
  }
  const GpuMemory m = gpu_rank_memory(cfg, plan[0], shape, 2, false);
  EXPECT_EQ(m.weights, 5408);
  EXPECT_EQ(m.grads, 7744);
  EXPECT_EQ(m.optimizer, 7744);
  EXPECT_EQ(m.total(), 32992 + W);
  const GpuMemory last = gpu_rank_memory(cfg, plan[4], shape, 2, false);
  EXPECT_EQ(last.weights, 5744);
  EXPECT_EQ(last.grads, 6048);
  EXPECT_EQ(last.optimizer, 4192);
  EXPECT_EQ(last.total(), 22704 + W);
  EXPECT_EQ(gpu_rank_memory(cfg, plan[0], {2, 2, 1}, 2, false).grads, 4 * 968);  // no buckets at dp = 1

  Hardware hw;
  hw.gpus = 8;
  const LayoutEstimate e = estimate_layout(cfg, hw, shape, 2, 3);
  EXPECT_EQ(e.memory[0].total(), 32992 + W);
  EXPECT_EQ(e.memory[1].total(), 26272 + W);
  EXPECT_TRUE(e.fits[0] && e.fits[1]);
  EXPECT_FALSE(e.recompute);
}

// The 1.3B model at tp=1 pp=1 dp=8, micro-batch 2 (N = 1024), one micro-batch in flight
// (HS = 128: bf16 attention operands; V = 50257 padded to 50304 head rows, 47 x C = 96,256
// padding elements):
//   weights (1,361,887,232 + 96,256) x 4 = 5,447,933,952 + bf16 copies (25 x (4 C^2 + 2 C F)
//     + 50304 C = 1,361,313,792 el) x 2 = 2,722,627,584 -> 8,170,561,536
//   grads 5,447,933,952 + buckets 1,361,887,232 x 4 = 10,895,482,880; AdamW 10,895,097,856
//   activations: one block (4NC + 4N + 3NC + NC + B NH T + 2NF) = 33,574,912 el x 4 B, less
//     2 B for each of the bf16 ln1_out, ln2_out, fch_gelu (2NC + NF = 12,582,912 el), plus the
//     attention kernel's prepared bf16 q, k, v (3 N C x 2 = 12,582,912 B), x 25 = 3,042,918,400;
//     stream 27 N C x 4 = 226,492,416; head lnf_out N C x 2 + (4N + N x 50304) x 4 + 2N x 8
//     = 210,272,256 -> 3,479,683,072
//   scratch: the head's d lnf (N C) fp32 + bf16 d logits (N x 50304) = 8,388,608 + 103,022,592
//     = 111,411,200 (beats a block's largest, the MLP's d gelu 33,554,432 + bf16 d out
//     16,777,216 = 50,331,648) + 32 MiB = 144,965,632
//   total 33,585,790,976 B (33.6 GB, within 72 GB).
//   Recomputing, the block being recomputed adds its activations to the MLP's 50,331,648:
//     33,574,912 x 4 less 12,582,912 x 2 for the bf16 ones, plus its prepared operands
//     12,582,912 = 121,716,736, so the scratch is 172,048,384 + 32 MiB = 205,602,816; the
//     slot keeps no block's operands.
TEST(Plan, GpuMemoryOneBillionModel) {
  const ModelConfig cfg = alibi_1_3b();
  Hardware hw;
  hw.gpus = 8;
  hw.memory_gb = 80;
  const LayoutEstimate e = estimate_layout(cfg, hw, {1, 1, 8}, 2, 32);
  EXPECT_EQ(e.memory[0].weights, 8170561536);
  EXPECT_EQ(e.memory[0].grads, 10895482880);
  EXPECT_EQ(e.memory[0].optimizer, 10895097856);
  EXPECT_EQ(e.memory[0].activations, 3479683072);
  EXPECT_EQ(e.memory[0].scratch, 144965632);
  EXPECT_EQ(e.memory[0].total(), 33585790976);
  EXPECT_TRUE(e.fits[0]);
  EXPECT_EQ(e.memory[1].activations, 226492416 + 210272256);
  EXPECT_EQ(e.memory[1].scratch, 205602816);
}

// Recomputation keeps less (every 1.3B layout has at least 3 blocks per stage) and costs
// a forward of the blocks: the same layout is slower when only recomputation fits.
TEST(Plan, RecomputationTradesMemoryForTime) {
  const ModelConfig cfg = alibi_1_3b();
  Hardware hw;
  hw.gpus = 8;
  const std::vector<LayoutEstimate> study = scaling_study(cfg, hw, 512);
  ASSERT_FALSE(study.empty());
  for (const LayoutEstimate& e : study) {
    EXPECT_LT(e.memory[1].activations, e.memory[0].activations);
    EXPECT_LT(e.memory[1].total(), e.memory[0].total());
    EXPECT_EQ(e.recompute, !e.fits[0]);
  }
  const LayoutEstimate roomy = estimate_layout(cfg, hw, {2, 2, 2}, 4, 64);
  hw.memory_gb = 1;  // fits neither way; estimated with recomputation
  const LayoutEstimate tight = estimate_layout(cfg, hw, {2, 2, 2}, 4, 64);
  EXPECT_FALSE(roomy.recompute);
  EXPECT_TRUE(tight.recompute);
  EXPECT_GT(tight.step_s, roomy.step_s);
}

TEST(Plan, PipelineBubble) {
  EXPECT_DOUBLE_EQ(pipeline_bubble(1, 7), 0.0);
  EXPECT_DOUBLE_EQ(pipeline_bubble(2, 1), 0.5);        // 1 / 2
  EXPECT_DOUBLE_EQ(pipeline_bubble(4, 12), 0.2);       // 3 / 15
  EXPECT_DOUBLE_EQ(pipeline_bubble(8, 64), 7.0 / 71);
}

// Step times by hand for the small model (17,472 FLOPs per token: 3 blocks of 6*872 +
// 12*4*8 = 5616, head 6*(88 + 16) = 624), on a toy machine with round numbers: 0.5e6
// FLOP/s per GPU (1e-6 TFLOP/s at mfu 0.5), 1000 B/s links in a node and 500 B/s between
// nodes, 1e5 B/s of HBM. B = 2, T = 4 (N = 8), M = 3. The tolerance is a few ulps of the
// same double arithmetic in another order.
TEST(Plan, StepTimeHandComputed) {
  const ModelConfig cfg = small_config();
  Hardware hw;
  hw.tflops = 1e-6;
  hw.mfu = 0.5;
  hw.intra_node_gbs = 1e-6;
  hw.inter_node_gbs = 0.5e-6;
  hw.hbm_gbs = 1e-4;
  auto near = [](double got, double want) { EXPECT_NEAR(got, want, 1e-12 * want); };

  // One GPU: a micro-batch is 8 * 17472 / 0.5e6 = 0.279552 s; 3 of them 0.838656 s;
  // AdamW over 2720 parameters * 34 B / 1e5 B/s = 0.9248 s. Step 1.763456 s, 24 tokens.
  hw.gpus = 1;
  LayoutEstimate e = estimate_layout(cfg, hw, {1, 1, 1}, 2, 3);
  near(e.stage_s, 0.279552);
  near(e.pipeline_s, 0.838656);
  EXPECT_EQ(e.tp_comm_s, 0.0);
  EXPECT_EQ(e.dp_exposed_s, 0.0);
  EXPECT_EQ(e.idle, 0.0);
  near(e.optimizer_s, 0.9248);
  near(e.step_s, 1.763456);
  near(e.tokens_per_s, 24 / 1.763456);
  near(e.mfu, 17472 * (24 / 1.763456) / 1e6);  // peak 1e6 FLOP/s

  // tp=2 dp=2 (4 GPUs, one node): compute 8 * 17472 / (2 * 0.5e6) = 0.139776 s. TP: an
  // (N, C) bf16 all-reduce over 2 moves 2 * 1/2 * 128 B = 0.128 s, an (N) fp32 one 0.032 s;
  // 3 blocks * 4 + embedding + head = 14 of the first, 3 (cross-entropy) of the second:
  // 1.888 s. Stage 2.027776 s, 3 micro-batches 6.083328 s. DP: rank 0 holds 48 + 3*460 +
  // 16 = 1444 elements, 2 * 1/2 * 1444 * 4 B / 1000 = 5.776 s, of which the last backward
  // (2/3 of 0.139776 = 0.093184 s) hides: 5.682816 s. AdamW + buckets 1444 * 50 B / 1e5 =
  // 0.722 s. Step 12.488144 s.
  hw.gpus = 4;
  e = estimate_layout(cfg, hw, {2, 1, 2}, 2, 3);
  near(e.tp_comm_s, 1.888);
  near(e.stage_s, 2.027776);
  near(e.dp_exposed_s, 5.682816);
  near(e.optimizer_s, 0.722);
  near(e.step_s, 12.488144);
  // Two GPUs per node: the DP pair (ranks 0 and 2) crosses nodes at half the bandwidth:
  // 11.552 - 0.093184 = 11.458816 s exposed; TP stays inside a node.
  hw.gpus_per_node = 2;
  e = estimate_layout(cfg, hw, {2, 1, 2}, 2, 3);
  near(e.tp_comm_s, 1.888);
  near(e.dp_exposed_s, 11.458816);
  near(e.step_s, 6.083328 + 11.458816 + 0.722);

  // pp=2 (2 GPUs): stage 0 has blocks 0, 1: 8 * 2 * 5616 / 0.5e6 = 0.179712 s, plus
  // receiving the gradient (N, C) bf16 = 128 B / 1000 = 0.128 s -> 0.307712 s; stage 1
  // block 2 and the head: 8 * 6240 / 0.5e6 = 0.09984 + 0.128 = 0.22784 s. Pipeline
  // (3 + 1) * 0.307712 = 1.230848 s; idle 1 - 3 * (0.307712 + 0.22784) / (2 * 1.230848),
  // above the bubble 1/4 because the stages are unequal. The tied copy (88 elements)
  // syncs: 2 * 1/2 * 352 B / 1000 = 0.352 s. AdamW on stage 0's 88 + 2*872 = 1832
  // elements: 1832 * 34 / 1e5 = 0.62288 s. Step 2.205728 s.
  hw.gpus = 2;
  hw.gpus_per_node = 8;
  e = estimate_layout(cfg, hw, {1, 2, 1}, 2, 3);
  near(e.stage_s, 0.307712);
  near(e.pipeline_s, 1.230848);
  EXPECT_DOUBLE_EQ(e.bubble, 0.25);
  near(e.idle, 1 - 3 * (0.307712 + 0.22784) / (2 * 1.230848));
  EXPECT_GT(e.idle, e.bubble);
  near(e.embedding_sync_s, 0.352);
  near(e.optimizer_s, 0.62288);
  near(e.step_s, 2.205728);
}

// The 1.3B model: on 8 GPUs of 80 GB at least one layout fits, the fastest first, each
// within 90% of 80 GB. On one 16 GB GPU none can: its weights, grads and AdamW state
// alone are 16 B x 1.36e9 and bf16 copies of nearly all of it, 24.5 GB > 14.4 GB, before any
// activation.
TEST(Plan, ScalingStudyOneBillionModel) {
  const ModelConfig cfg = alibi_1_3b();
  Hardware hw;
  hw.gpus = 8;
  hw.memory_gb = 80;
  const std::vector<LayoutEstimate> study = scaling_study(cfg, hw, 512);
  ASSERT_FALSE(study.empty());
  ASSERT_TRUE(study[0].fits_any());
  int fitting = 0;
  for (size_t i = 0; i < study.size(); ++i) {
    const LayoutEstimate& e = study[i];
    EXPECT_EQ(e.shape.world(), 8);
    EXPECT_EQ(int64_t{e.micro_batch} * e.grad_accum * e.shape.dp, 512);
    if (!e.fits_any()) continue;
    ++fitting;
    EXPECT_LE(double(e.run_memory().total()), 0.9 * 80e9);
    if (i > 0) {
      EXPECT_LE(e.tokens_per_s, study[i - 1].tokens_per_s);
    }
    EXPECT_GT(e.tokens_per_s, 0);
    EXPECT_LE(e.mfu, hw.mfu);  // bubbles and communication only take away
  }
  EXPECT_GT(fitting, 0);

  hw.gpus = 1;
  hw.memory_gb = 16;
  const std::vector<LayoutEstimate> one = scaling_study(cfg, hw, 512);
  ASSERT_EQ(one.size(), 10u);  // micro-batch 1, 2, 4, ..., 512
  for (const LayoutEstimate& e : one) {
    EXPECT_FALSE(e.fits_any());
    EXPECT_GE(e.memory[1].total(), 18 * int64_t{1361887232});
  }
}

TEST(Plan, ScalingStudyBadInput) {
  const ModelConfig cfg = alibi_1_3b();
  auto message = [&](Hardware hw, int64_t global_batch = 512) -> std::string {
    try {
      scaling_study(cfg, hw, global_batch);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  Hardware hw;
  hw.gpus = 0;
  EXPECT_NE(message(hw).find("--gpus"), std::string::npos);
  hw.gpus = 8;
  hw.mfu = 1.5;
  EXPECT_NE(message(hw).find("--mfu"), std::string::npos);
  hw.mfu = 0.4;
  hw.headroom = 1;
  EXPECT_NE(message(hw).find("--headroom"), std::string::npos);
  hw.headroom = 0.1;
  EXPECT_NE(message(hw, 0).find("--global-batch"), std::string::npos);
  // 3 GPUs and 4 windows per step: tp = 1 (tp divides the GPUs); pp = 1 gives dp = 3,
  // which divides no multiple of 4 windows; pp = 3 (dp = 1) takes micro-batch 1, 2 and 4.
  hw.gpus = 3;
  EXPECT_EQ(scaling_study(cfg, hw, 4).size(), 3u);
}

}  // namespace
}  // namespace alibi
