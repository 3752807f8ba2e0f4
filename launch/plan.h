// What each rank of a layout holds, computed without MPI (`alibi plan` prints it):
// coordinates, blocks, heads, vocabulary rows, parameter elements and a memory estimate;
// and, for scaling studies, which layouts of N GPUs fit and how fast they would run.
//
//   std::vector<RankPlan> plan = plan_layout(cfg, {/*tp*/ 2, /*pp*/ 2, /*dp*/ 2}, /*B*/ 16, /*M*/ 1);
//   plan[5].coord.pp_rank;                     // 1: rank 5 = 1 + 2 * (0 + 2 * 1)
//   replica_parameter_count(plan) == cfg.parameter_count();   // each parameter once
//
//   Hardware hw;  hw.gpus = 8;  hw.memory_gb = 80;          // H100 SXM otherwise
//   std::vector<LayoutEstimate> study = scaling_study(cfg, hw, /*global batch*/ 512);
//   study[0];   // the fastest layout that fits: its memory per GPU, step time, tokens/s
//
// The counts mirror what layers/model.cpp allocates (a unit test checks them against
// real Blocks and Models); the memory estimate is the CPU path's fp32 tensors that live
// through a step: parameters, gradients, AdamW m and v, the DP all-reduce buckets, the
// activations the 1F1B schedule's micro-batches in flight keep (per --recompute mode),
// and backward's scratch, which the caching allocator keeps by size once allocated. What
// is left out: the attention kernel's per-thread tiles (about 100 KB a thread) and the
// process itself (libraries, MPI, the corpus: about 40 MiB), so a rank's peak RSS is the
// total plus about that (bench/RESULTS.md, issue 17).
//
// The scaling study's GPU memory is what the CUDA path allocates under --matmul-precision
// bf16 (its default): the CPU path's fp32 tensors (activations too), plus the products' bf16
// working copies of the weights and their transient bf16 operands, the attention kernel's
// prepared operands (on its tensor cores each block's bf16 q, k, v, kept from forward to
// backward), the LM head's padding rows and cuBLAS's workspace. Each term names where
// the code allocates it (launch/plan.cpp). It is a model whose assumptions `alibi plan --gpus`
// prints, not a measurement: no GPU has run it here.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <string>

#include "layers/recompute.h"
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
  // The same state under --zero 1: m and v of this DP rank's shard of each bucket (one per
  // local block, one for the rest; each padded to a multiple of dp), the buckets padded.
  int64_t zero1_state_bytes = 0;
  int64_t scratch_bytes = 0;           // backward's transient gradients, the block being recomputed

  int64_t total_bytes() const { return state_bytes + activation_bytes + scratch_bytes; }
  int64_t zero1_total_bytes() const { return zero1_state_bytes + activation_bytes + scratch_bytes; }
};

// One entry per rank, in rank order. Throws ConfigError (the failed equation) for a bad
// model or layout: ModelConfig::validate, dp >= 1, validate_grid, micro_batch and
// grad_accum >= 1; and for --position t5, whose bias table has no place in Model yet.
// shape.stage_blocks, when set, is the pipeline split (validate_grid checks it).
std::vector<RankPlan> plan_layout(const ModelConfig& cfg, const GridShape& shape, int micro_batch, int grad_accum,
                                  Recompute recompute = Recompute::none);

// Sum of owned(tp_rank) over one DP replica (dp_rank 0): must equal cfg.parameter_count().
int64_t replica_parameter_count(const std::vector<RankPlan>& plan);

// Activation bytes one micro-batch of B windows of T tokens keeps on a stage with
// `local_layers` blocks (the per-slot tensors of Model, Block, Attention and Mlp; with
// recomputation, those the mode keeps: layers/recompute.h).
int64_t activation_bytes_per_micro_batch(const ModelConfig& cfg, const GridShape& shape, int local_layers,
                                         int64_t vocab_local, bool head_stage, int micro_batch,
                                         Recompute recompute = Recompute::none);
// What backward allocates beyond that, once per rank (one micro-batch's backward runs at a
// time, and the caching allocator hands the same blocks to the next): one block's
// activation gradients, and with recomputation the activations of the block (full) or
// attention core (selective) being recomputed.
int64_t scratch_bytes(const ModelConfig& cfg, const GridShape& shape, bool head_stage, int micro_batch,
                      Recompute recompute);

// ---- Pipeline split (--pp-split) ------------------------------------------------------

// FLOPs per token of one block, of the first stage's embedding and of the last stage's
// final LayerNorm, LM head and cross-entropy, forward and backward (with the mode's
// recomputation): what --pp-split auto balances.
struct StageCosts {
  double block = 0, embedding = 0, head = 0;
};
StageCosts stage_costs(const ModelConfig& cfg, Recompute recompute);

// Blocks per stage for --pp-split `spec`: its counts as given, or for auto the split whose
// slowest stage has the fewest FLOPs (balanced_split over stage_costs); empty with pp = 1.
// ConfigError for a spec that does not parse; validate_grid checks the counts.
std::vector<int> pipeline_split(const ModelConfig& cfg, int pp, const std::string& spec, Recompute recompute);

// ---- Scaling study (alibi plan --gpus N) --------------------------------------------

// The machine. GB = 1e9 bytes throughout; defaults are an H100 SXM 80GB in an 8-GPU
// NVLink node with one 400 Gb/s NIC per GPU.
struct Hardware {
  int gpus = 1;
  int gpus_per_node = 8;          // a TP group stays inside one node
  double memory_gb = 80;          // per GPU
  double headroom = 0.10;         // share of memory kept free (CUDA context, cuBLAS/NCCL workspaces,
                                  // transient backward scratch, fragmentation)
  double tflops = 989;            // dense bf16 peak per GPU
  double mfu = 0.4;               // share of that peak the model's math reaches
  double hbm_gbs = 3350;          // memory bandwidth per GPU (the optimizer step is bound by it)
  double intra_node_gbs = 450;    // all-reduce bus bandwidth per GPU inside a node (NVLink)
  double inter_node_gbs = 50;     // the same between nodes

  double usable_bytes() const { return memory_gb * 1e9 * (1.0 - headroom); }
  void validate() const;  // ConfigError naming the option
};

// Bytes one rank holds on the GPU path (--device cuda, bf16 products), by what holds them.
struct GpuMemory {
  int64_t weights = 0;      // fp32 values, the head's padding rows, the products' bf16 working copies
  int64_t grads = 0;        // fp32 (the padding rows too); + the DP buckets' flat copy when dp > 1
  int64_t optimizer = 0;    // AdamW m and v, fp32: 8 B per local parameter
  int64_t activations = 0;  // kept for backward by the micro-batches in flight: fp32, and the
                            // attention kernel's bf16 operands
  int64_t scratch = 0;      // the most transient memory alive at once, and cuBLAS's workspace
  int64_t total() const { return weights + grads + optimizer + activations + scratch; }
};

// Activation bytes rank `r` keeps on the GPU path with B = micro_batch windows per micro-
// batch and r.in_flight micro-batches in flight (1F1B): activation_bytes_per_micro_batch's
// tensors (fp32, as the CPU path's: the same Model, Block, Attention and Mlp allocate them)
// with the logits' columns padded to kGpuVocabMultiple, and on the attention kernel's tensor
// cores each block's prepared bf16 q, k, v (3, B, NH_local, T, HS), per micro-batch in
// flight. With `recompute` (Recompute::full), a slot keeps only the residual stream and the head.
int64_t gpu_activation_bytes(const ModelConfig& cfg, const RankPlan& r, int tp, int micro_batch, bool recompute);
// The largest set of transient tensors alive at once on rank `r` (the caching allocator
// splits and merges blocks, so freed memory serves the next request of any size): one
// product's bf16 operands, backward's gradients of one block, the attention kernel's prepared
// operands, the head's input gradient; with recomputation the recomputed activations. Not
// counted: buffers of (N) elements or fewer (uploaded tokens and targets, reduction partials).
int64_t gpu_scratch_bytes(const ModelConfig& cfg, const RankPlan& r, int tp, int micro_batch, bool recompute);
GpuMemory gpu_rank_memory(const ModelConfig& cfg, const RankPlan& r, const GridShape& shape, int micro_batch,
                          bool recompute);

// The 1F1B bubble with equal stages: (pp - 1) / (M + pp - 1) of each stage's time idle.
double pipeline_bubble(int pp, int grad_accum);

// Model FLOPs per trained token, forward and backward, without recomputation:
// 6 x (parameters that multiply: all but the embedding lookup of an untied model and the
// position table) + 12 L T C for the attention scores and their weighted sum. For a tied
// ALiBi model this is 6 x parameter_count() + 12 L T C. MFU is measured against it.
double model_flops_per_token(const ModelConfig& cfg);

// One candidate: a layout and micro-batch size, its memory both ways and its predicted
// step. Timing model, per pipeline stage s and micro-batch:
//   t_s = FLOPs_s / (tp x peak x mfu) + TP all-reduces + p2p receives,
//   FLOPs_s = B T (6 x stage's multiplying parameters x (4/3 for blocks with recompute)
//             + 12 L_s T C (x 4/3 with recompute)),
//   step = (M + pp - 1) x max_s t_s  +  exposed DP all-reduce  +  tied-embedding sync
//          + optimizer (HBM traffic),
// with ring all-reduces costing 2 (n-1)/n x bytes / bandwidth and no latency term.
struct LayoutEstimate {
  GridShape shape;
  int micro_batch = 1, grad_accum = 1;
  GpuMemory memory[2];          // [0] without, [1] with activation recomputation
  bool fits[2] = {false, false};
  bool recompute = false;       // the predicted run: recomputation only when needed to fit
  double bubble = 0;            // pipeline_bubble(pp, M)
  double idle = 0;              // share of GPU time a stage waits: the bubble plus stage imbalance
  double stage_s = 0;           // max_s t_s: the slowest stage's micro-batch
  double tp_comm_s = 0;         // of which TP all-reduces
  double pipeline_s = 0;        // (M + pp - 1) x stage_s
  double dp_exposed_s = 0;      // DP gradient all-reduce not hidden behind the last backward
  double embedding_sync_s = 0;  // tied embedding: first and last stage sum their gradients
  double optimizer_s = 0;       // AdamW, grad norm and DP bucket copies at HBM bandwidth
  double step_s = 0;
  double tokens_per_s = 0;
  double mfu = 0;               // model_flops_per_token x tokens/s / (gpus x peak)

  bool fits_any() const { return fits[0] || fits[1]; }
  const GpuMemory& run_memory() const { return memory[recompute ? 1 : 0]; }
};

// Throws ConfigError for a bad model or layout (plan_layout's checks).
LayoutEstimate estimate_layout(const ModelConfig& cfg, const Hardware& hw, const GridShape& shape, int micro_batch,
                               int grad_accum);

// Every layout of hw.gpus GPUs: tp a power of two dividing NH, F and gpus_per_node; any
// pp <= L with tp x pp dividing the GPUs; dp the rest; micro-batch 1, 2, 4, ... with
// grad-accum = global_batch / (micro-batch x dp) a whole number. Those that fit come
// first, fastest first; then the rest, smallest memory first.
std::vector<LayoutEstimate> scaling_study(const ModelConfig& cfg, const Hardware& hw, int64_t global_batch);

}  // namespace alibi
