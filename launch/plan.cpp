// Per-rank layout plan: counts that mirror layers/model.cpp's allocations.
#include "launch/plan.h"

#include <algorithm>

#include "runtime/error.h"

namespace alibi {

namespace {

constexpr int64_t kReal = sizeof(float);  // the CPU training path is fp32

// Parameter elements of one block's TP shard (layers/block.cpp, attention.cpp, mlp.cpp).
int64_t block_parameters(int64_t C, int64_t F, int tp) {
  const int64_t C_local = C / tp, F_local = F / tp;  // C/tp = NH_local * HS since tp | NH
  return 2 * C                          // ln1 weight, bias (replicated)
         + 3 * C_local * C + 3 * C_local  // qkv: column-parallel rows and bias
         + C * C_local + C               // proj: row-parallel columns; bias replicated
         + 2 * C                         // ln2
         + F_local * C + F_local         // mlp.fc: column-parallel
         + C * F_local + C;              // mlp.proj: row-parallel; bias replicated
}

}  // namespace

int64_t activation_bytes_per_micro_batch(const ModelConfig& cfg, const GridShape& shape, int local_layers,
                                         int64_t vocab_local, bool head_stage, int micro_batch) {
  const int64_t B = micro_batch, T = cfg.seq_len, N = B * T, C = cfg.channels;
  const int64_t F_local = cfg.ffn_width() / shape.tp, NH_local = cfg.heads / shape.tp, C_local = C / shape.tp;
  // Block: ln1_out, residual, ln2_out, branch (N, C); ln1/ln2 mean and rstd (N) each.
  // Attention: qkv (N, 3 C_local), att (N, C_local), lse (B, NH_local, T).
  // Mlp: fch and fch_gelu (N, F_local).
  const int64_t per_block = 4 * N * C + 4 * N + 3 * N * C_local + N * C_local + B * NH_local * T + 2 * N * F_local;
  // Model slot: residuals (local L + 1 tensors of (N, C)) and the residual gradient dres.
  int64_t elements = int64_t{local_layers} * per_block + (local_layers + 1) * N * C + N * C;
  int64_t bytes = elements * kReal;
  if (head_stage) {
    // lnf_out (N, C), lnf mean and rstd, losses, row_max (N); logits (N, V_local);
    // sum_exp and target_logit (N) in double.
    bytes += (N * C + 4 * N + N * vocab_local) * kReal + 2 * N * int64_t{sizeof(double)};
  }
  return bytes;
}

std::vector<RankPlan> plan_layout(const ModelConfig& cfg, const GridShape& shape, int micro_batch, int grad_accum) {
  cfg.validate();
  ALIBI_CHECK_AS(ConfigError, shape.dp >= 1, "--dp must be at least 1 (got " << shape.dp << ")");
  validate_grid(shape, shape.world(), cfg);
  ALIBI_CHECK_AS(ConfigError, micro_batch >= 1, "--micro-batch must be at least 1 (got " << micro_batch << ")");
  ALIBI_CHECK_AS(ConfigError, grad_accum >= 1, "--grad-accum must be at least 1 (got " << grad_accum << ")");
  const PositionMethod method = cfg.position_method();
  // ModelConfig::parameter_count counts a T5 bias table, but layers/model.cpp does not
  // build one yet, so there is no layout to mirror: plan it when the model has it.
  ALIBI_CHECK_AS(ConfigError, method != PositionMethod::t5,
                 "--position t5: alibi plan does not know where the T5 bias table lives yet; plan with "
                 "--position alibi (the same layout apart from that table)");

  const int64_t C = cfg.channels, F = cfg.ffn_width(), V = cfg.vocab;
  const int NH_local = cfg.heads / shape.tp;
  std::vector<RankPlan> plan(shape.world());
  for (int rank = 0; rank < shape.world(); ++rank) {
    RankPlan& r = plan[rank];
    r.rank = rank;
    r.coord = grid_coord(shape, rank);
    const GridCoord& c = r.coord;
    r.layers = stage_layers(cfg.layers, shape.pp, c.pp_rank);
    r.heads = {c.tp_rank * NH_local, (c.tp_rank + 1) * NH_local};
    r.vocab = shard_range(V, shape.tp, c.tp_rank);
    r.embedding_stage = c.pp_rank == 0;
    r.head_stage = c.pp_rank == shape.pp - 1;

    const int64_t V_local = r.vocab.second - r.vocab.first;
    const int local_layers = r.layers.second - r.layers.first;
    if (r.embedding_stage) r.params.embedding = V_local * C;
    if (r.embedding_stage && method == PositionMethod::learned) r.params.positions = int64_t{cfg.position_rows()} * C;
    if (r.head_stage && !r.embedding_stage && cfg.tie_embeddings) r.params.tied_copy = V_local * C;
    r.params.blocks = local_layers * block_parameters(C, F, shape.tp);
    if (r.head_stage) r.params.head = 2 * C + (cfg.tie_embeddings ? 0 : V_local * C);
    // ln1, ln2 (2C each), attn.proj and mlp.proj biases (C each) per block; ln_f (2C).
    r.params.replicated = local_layers * 6 * C + (r.head_stage ? 2 * C : 0) + r.params.positions;

    // Value, grad, AdamW m and v for every local element (the tied copy included); with
    // dp > 1 the DP buckets hold one more copy of the gradients (parallel/data_parallel).
    const int64_t copies = 4 + (shape.dp > 1 ? 1 : 0);
    r.state_bytes = r.params.local() * copies * kReal;
    // 1F1B keeps min(P - s, M) micro-batches in flight on stage s (parallel/pipeline.h).
    r.in_flight = std::min(shape.pp - c.pp_rank, grad_accum);
    r.activation_bytes =
        r.in_flight * activation_bytes_per_micro_batch(cfg, shape, local_layers, V_local, r.head_stage, micro_batch);
    // Sinusoidal positions: one (T, C) table on the first stage, shared by the slots.
    if (r.embedding_stage && method == PositionMethod::sinusoidal) r.activation_bytes += int64_t{cfg.seq_len} * C * kReal;
  }
  return plan;
}

int64_t replica_parameter_count(const std::vector<RankPlan>& plan) {
  int64_t sum = 0;
  for (const RankPlan& r : plan)
    if (r.coord.dp_rank == 0) sum += r.params.owned(r.coord.tp_rank);
  return sum;
}

}  // namespace alibi
