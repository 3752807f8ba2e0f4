// What each rank of a layout holds, computed without MPI (`alibi plan` prints it):
// coordinates, blocks, heads, vocabulary rows, parameter elements and a memory estimate.
//
//   std::vector<RankPlan> plan = plan_layout(cfg, {/*tp*/ 2, /*pp*/ 2, /*dp*/ 2}, /*B*/ 16, /*M*/ 1);
//   plan[5].coord.pp_rank;                     // 1: rank 5 = 1 + 2 * (0 + 2 * 1)
//   replica_parameter_count(plan) == cfg.parameter_count();   // each parameter once
//
// The counts mirror what layers/model.cpp allocates (a unit test checks them against
// real Blocks and Models); the memory estimate is the CPU path's fp32 tensors that live
// through a step: parameters, gradients, AdamW m and v, the DP all-reduce buckets, and
// the activations of the micro-batches the 1F1B schedule keeps in flight. Transient
// backward scratch and allocator slack are not counted.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "parallel/grid.h"
#include "runtime/config.h"

namespace alibi {

// Parameter elements one rank allocates, by part.
struct ParamCounts {
  int64_t embedding = 0;  // (V_local, C) token-embedding shard, first stage
  int64_t positions = 0;  // (max positions, C) learned position table, first stage, whole on each TP rank
  int64_t tied_copy = 0;  // the last stage's copy of that shard (tied head, pp > 1)
  int64_t blocks = 0;     // this stage's blocks, TP shards
  int64_t head = 0;       // last stage: ln_f, and the (V_local, C) lm_head when untied
  // Of the above: tensors every TP rank holds whole (LayerNorms, the row-parallel biases
  // of attn.proj and mlp.proj, learned positions); a TP group holds tp identical copies.
  int64_t replicated = 0;

  int64_t local() const { return embedding + positions + tied_copy + blocks + head; }  // allocated here
  // Counted once globally (the grad-norm rule): without the tied copy, and replicated
  // tensors only on tp_rank 0.
  int64_t owned(int tp_rank) const { return local() - tied_copy - (tp_rank == 0 ? 0 : replicated); }
};

struct RankPlan {
  int rank = 0;
  GridCoord coord;
  std::pair<int, int> layers;          // global blocks [first, last)
  std::pair<int, int> heads;           // global heads [h0, h1)
  std::pair<int64_t, int64_t> vocab;   // vocabulary rows [v0, v1) (embedding and head stages)
  bool embedding_stage = false;        // first stage
  bool head_stage = false;             // last stage
  ParamCounts params;
  int in_flight = 1;                   // micro-batches whose activations live at once (1F1B)
  int64_t state_bytes = 0;             // parameters, grads, AdamW m and v, DP buckets
  int64_t activation_bytes = 0;        // every in-flight micro-batch's kept activations

  int64_t total_bytes() const { return state_bytes + activation_bytes; }
};

// One entry per rank, in rank order. Throws ConfigError (the failed equation) for a bad
// model or layout: ModelConfig::validate, dp >= 1, validate_grid, micro_batch and
// grad_accum >= 1; and for --position t5, whose bias table has no place in Model yet.
std::vector<RankPlan> plan_layout(const ModelConfig& cfg, const GridShape& shape, int micro_batch, int grad_accum);

// Sum of owned(tp_rank) over one DP replica (dp_rank 0): must equal cfg.parameter_count().
int64_t replica_parameter_count(const std::vector<RankPlan>& plan);

// Activation bytes of one micro-batch of B windows of T tokens on a stage with
// `local_layers` blocks (the per-slot tensors of Model, Block, Attention and Mlp).
int64_t activation_bytes_per_micro_batch(const ModelConfig& cfg, const GridShape& shape, int local_layers,
                                         int64_t vocab_local, bool head_stage, int micro_batch);

}  // namespace alibi
