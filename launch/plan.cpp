// Per-rank layout plan: counts that mirror layers/model.cpp's allocations; and the
// scaling study's GPU memory and step-time model over every layout of N GPUs.
#include "launch/plan.h"

#include <algorithm>
#include <cmath>

#include "layers/model.h"
#include "runtime/error.h"
#include "train/options.h"

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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

namespace {

// One block's activations by tensor (elements), as Block, Attention and Mlp allocate them.
struct BlockActivations {
  int64_t ln_and_residual;  // ln1_out, residual, ln2_out, branch (N, C) and LN mean, rstd (N) x 4
  int64_t qkv;              // (N, 3 C_local)
  int64_t core;             // the attention kernel's output att (N, C_local) and lse (B, NH_local, T)
  int64_t mlp;              // fch and fch_gelu (N, F_local)
  int64_t all() const { return ln_and_residual + qkv + core + mlp; }
};

// Of those, the ones that feed only products, which bf16 precision keeps in bf16
// (layers/linear.h product_input_dtype): ln1_out and ln2_out (N, C) and fch_gelu (N, F_local).
int64_t block_product_inputs(const ModelConfig& cfg, const GridShape& shape, int micro_batch) {
  const int64_t N = int64_t{micro_batch} * cfg.seq_len;
  return 2 * N * cfg.channels + N * (cfg.ffn_width() / shape.tp);
}

BlockActivations block_activations(const ModelConfig& cfg, const GridShape& shape, int micro_batch) {
  const int64_t B = micro_batch, T = cfg.seq_len, N = B * T, C = cfg.channels;
  const int64_t F_local = cfg.ffn_width() / shape.tp, NH_local = cfg.heads / shape.tp, C_local = C / shape.tp;
  return {4 * N * C + 4 * N, 3 * N * C_local, N * C_local + B * NH_local * T, 2 * N * F_local};
}

}  // namespace

int64_t activation_bytes_per_micro_batch(const ModelConfig& cfg, const GridShape& shape, int local_layers,
                                         int64_t vocab_local, bool head_stage, int micro_batch, Recompute recompute) {
  const int64_t N = int64_t{micro_batch} * cfg.seq_len, C = cfg.channels;
  // Kept per block: everything (none), all but the attention core's output (selective),
  // nothing (full: the block's input is the residual stream below).
  const BlockActivations a = block_activations(cfg, shape, micro_batch);
  const int64_t per_block = recompute == Recompute::full        ? 0
                            : recompute == Recompute::selective ? a.all() - a.core
                                                                : a.all();
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

int64_t scratch_bytes(const ModelConfig& cfg, const GridShape& shape, bool head_stage, int micro_batch,
                      Recompute recompute) {
  const int64_t N = int64_t{micro_batch} * cfg.seq_len, C = cfg.channels, C_local = C / shape.tp;
  const int64_t F_local = cfg.ffn_width() / shape.tp;
  // Backward's gradients of one block at a time: d gelu (N, F_local), d qkv (N, 3 C_local)
  // and d att (N, C_local); the head's d lnf (N, C) has d att's size when tp = 1 and takes
  // its cached block.
  int64_t elements = N * F_local + 3 * N * C_local + N * C_local + (head_stage && shape.tp > 1 ? N * C : 0);
  // The block being recomputed (forward drops each block's, the next one takes them back).
  const BlockActivations a = block_activations(cfg, shape, micro_batch);
  if (recompute == Recompute::selective) elements += a.core;
  if (recompute == Recompute::full) elements += a.all();
  return elements * kReal;
}

std::vector<int> pipeline_split(const ModelConfig& cfg, int pp, const std::string& spec, Recompute recompute) {
  std::vector<int> split = parse_pp_split(spec);
  if (!split.empty() || pp <= 1) return split;
  const StageCosts c = stage_costs(cfg, recompute);
  return balanced_split(cfg.layers, pp, c.block, c.embedding, c.head);
}

std::vector<RankPlan> plan_layout(const ModelConfig& cfg, const GridShape& shape, int micro_batch, int grad_accum,
                                  Recompute recompute) {
  cfg.validate();
  ALIBI_CHECK_AS(ConfigError, shape.dp >= 1, "--dp must be at least 1 (got " << shape.dp << ")");
  validate_grid(shape, shape.world(), cfg);
  ALIBI_CHECK_AS(ConfigError, micro_batch >= 1, "--micro-batch must be at least 1 (got " << micro_batch << ")");
  ALIBI_CHECK_AS(ConfigError, grad_accum >= 1, "--grad-accum must be at least 1 (got " << grad_accum << ")");
  const PositionMethod method = cfg.position;
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
    r.layers = stage_layers(shape, cfg.layers, c.pp_rank);
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
    // ZeRO-1 (train/trainer.h): value and grad whole; the buckets (one per local block,
    // one for the rest) padded to dp equal shards, of which AdamW keeps m and v.
    const int64_t block = block_parameters(C, F, shape.tp), rest = r.params.local() - local_layers * block;
    const int64_t shard = local_layers * ceil_div(block, shape.dp) + ceil_div(rest, shape.dp);
    r.zero1_state_bytes = shape.dp == 1 ? r.state_bytes
                                        : (2 * r.params.local() + shape.dp * shard + 2 * shard) * kReal;
    // 1F1B keeps min(P - s, M) micro-batches in flight on stage s (parallel/pipeline.h).
    r.in_flight = std::min(shape.pp - c.pp_rank, grad_accum);
    r.activation_bytes = r.in_flight * activation_bytes_per_micro_batch(cfg, shape, local_layers, V_local,
                                                                        r.head_stage, micro_batch, recompute);
    r.scratch_bytes = scratch_bytes(cfg, shape, r.head_stage, micro_batch, recompute);
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

// ---- Scaling study ---------------------------------------------------------------------

namespace {

constexpr int64_t kBf16 = 2, kFp32 = 4;
constexpr int64_t kCublasWorkspace = int64_t{32} << 20;  // kernels/cuda/matmul.cu handle(): 32 MiB
// HBM traffic of the step after backward, per local parameter: AdamW reads w, g, m, v
// (16 B) and writes w, m, v (12 B) and the bf16 copy (2 B); the grad norm reads g (4 B).
// With dp > 1 the buckets copy grads in and the sums back (read + write twice: 16 B).
constexpr double kOptimizerTraffic = 34, kBucketTraffic = 16;

// Ring all-reduce of `bytes` over n ranks at bus bandwidth `gbs`.
double all_reduce_s(double bytes, int n, double gbs) { return n <= 1 ? 0.0 : 2.0 * (n - 1) / n * bytes / (gbs * 1e9); }

// Whether ranks a and b share a node (ranks fill nodes in order, gpus_per_node each).
bool same_node(int a, int b, int gpus_per_node) { return a / gpus_per_node == b / gpus_per_node; }

}  // namespace

void Hardware::validate() const {
  ALIBI_CHECK_AS(ConfigError, gpus >= 1, "--gpus must be at least 1 (got " << gpus << ")");
  ALIBI_CHECK_AS(ConfigError, gpus_per_node >= 1, "--gpus-per-node must be at least 1 (got " << gpus_per_node << ")");
  ALIBI_CHECK_AS(ConfigError, memory_gb > 0, "--gpu-memory-gb must be positive (got " << memory_gb << ")");
  ALIBI_CHECK_AS(ConfigError, headroom >= 0 && headroom < 1,
                 "--headroom is a share of GPU memory kept free, in [0, 1) (got " << headroom << ")");
  ALIBI_CHECK_AS(ConfigError, tflops > 0, "--gpu-tflops must be positive (got " << tflops << ")");
  ALIBI_CHECK_AS(ConfigError, mfu > 0 && mfu <= 1, "--mfu is a share of peak in (0, 1] (got " << mfu << ")");
  ALIBI_CHECK_AS(ConfigError, hbm_gbs > 0, "--gpu-bandwidth-gbs must be positive (got " << hbm_gbs << ")");
  ALIBI_CHECK_AS(ConfigError, intra_node_gbs > 0 && inter_node_gbs > 0,
                 "--interconnect-gbs and --internode-gbs must be positive (got " << intra_node_gbs << ", "
                                                                                 << inter_node_gbs << ")");
}

namespace {

// The LM head's rows on CUDA: the shard's vocabulary padded to whole tensor-core tiles
// (Model::set_vocab_multiple, called by Model::to_device(cuda)).
int64_t gpu_head_rows(const RankPlan& r) { return padded_rows(r.vocab.second - r.vocab.first, kGpuVocabMultiple); }

// Whether the attention kernel runs on the tensor cores (kernels/cuda/attention.cu
// use_tensor_cores: the head sizes they are built for) or the exact fp32 kernels.
bool attention_tensor_cores(const ModelConfig& cfg) {
  const int HS = cfg.head_size();
  return HS == 32 || HS == 64 || HS == 128;
}

// The attention kernel's bf16 q, k, v (3, B, NH_local, T, HS) that a block keeps from its
// forward to its backward on the tensor cores (attention.cpp prepared_, the kernel's
// AttentionParams::prepared); the exact kernels keep none, preparing fp32 copies per call.
int64_t kept_attention_operand_bytes(const ModelConfig& cfg, int tp, int micro_batch) {
  const int64_t N = int64_t{micro_batch} * cfg.seq_len, Cl = cfg.channels / tp;
  return attention_tensor_cores(cfg) ? kBf16 * 3 * N * Cl : 0;
}

}  // namespace

int64_t gpu_activation_bytes(const ModelConfig& cfg, const RankPlan& r, int tp, int micro_batch, bool recompute) {
  const int local_layers = r.layers.second - r.layers.first;
  // Model's slots, Block, Attention and Mlp allocate the same tensors as on the CPU
  // (layers/model.cpp ensure_buffers, block.cpp forward_to_mlp, attention.cpp
  // ensure_activations, mlp.cpp forward_hidden); the logits (model.cpp ensure_buffers) have
  // the head's padded rows as columns. Under bf16, CUDA's precision, the ones that feed only
  // products are bf16: each kept block's LayerNorm and GELU outputs and the head's lnf_out.
  int64_t bytes = r.in_flight * activation_bytes_per_micro_batch(cfg, {tp, 1, 1}, local_layers, gpu_head_rows(r),
                                                                   r.head_stage, micro_batch,
                                                                   recompute ? Recompute::full : Recompute::none);
  const int64_t N = int64_t{micro_batch} * cfg.seq_len;
  const int64_t in_bf16 = (recompute ? 0 : local_layers * block_product_inputs(cfg, {tp, 1, 1}, micro_batch)) +
                          (r.head_stage ? N * cfg.channels : 0);
  bytes -= r.in_flight * in_bf16 * (kFp32 - kBf16);
  // Each block's prepared attention operands, beside its fp32 qkv; recomputation drops them
  // with the rest of the block (block.cpp release_activations).
  if (!recompute) bytes += r.in_flight * local_layers * kept_attention_operand_bytes(cfg, tp, micro_batch);
  // Sinusoidal positions: one (T, C) fp32 table on the first stage, shared by the slots
  // (model.cpp add_positions).
  if (r.embedding_stage && cfg.position == PositionMethod::sinusoidal) bytes += int64_t{cfg.seq_len} * cfg.channels * kFp32;
  return bytes;
}

int64_t gpu_scratch_bytes(const ModelConfig& cfg, const RankPlan& r, int tp, int micro_batch, bool recompute) {
  const int64_t B = micro_batch, T = cfg.seq_len, N = B * T, C = cfg.channels, HS = cfg.head_size();
  const int64_t Cl = C / tp, Fl = cfg.ffn_width() / tp, NHl = cfg.heads / tp, H = gpu_head_rows(r);
  const bool tensor_cores = attention_tensor_cores(cfg);
  const int64_t e = tensor_cores ? kBf16 : kFp32;  // an element of the kernel's dO
  // attention.cu prepare, alive for the call (forward, and again in backward): rotary's
  // (2, T, HS/2) cos and sin table, and on the exact kernels fp32 q, k, v head-major
  // (3, B, NH_local, T, HS). The tensor cores' bf16 ones are the block's, kept from forward
  // to backward (kept_attention_operand_bytes).
  const int64_t rope = cfg.position == PositionMethod::rotary ? T * HS * kFp32 : 0;
  const int64_t attention_prepared = (tensor_cores ? 0 : 3 * N * Cl * kFp32) + rope;
  // A product's bf16 operand scratch (matmul.cu bf16_scratch) for what is not kept in bf16
  // already (the LayerNorm and GELU outputs are): forward rounds the attention output (N,
  // C_local) for its projection; backward rounds its output gradient (N, OC), and the
  // projection's input again.
  const int64_t linear_forward = kBf16 * N * Cl;
  // Backward of one block (the same buffers in every block: each is freed before the next).
  //   mlp.cpp backward: d gelu (N, F_local) fp32, under the proj's d out (N, C) and then the
  //   fc's d gelu (N, F_local) in bf16.
  const int64_t mlp = kFp32 * N * Fl + kBf16 * N * std::max(C, Fl);
  //   attention.cpp backward: d att (N, C_local) fp32 under the proj's operands (N, C) +
  //   (N, C_local) bf16; then d qkv (N, 3 C_local) fp32 beside it, under the attention
  //   kernel's per-call tables and operands (the exact kernels'), its dO (N, C_local) and D
  //   (B, NH_local, T) fp32 (attention.cu backward_with), then under the qkv product's d qkv
  //   (N, 3 C_local) in bf16.
  const int64_t datt = kFp32 * N * Cl, dqkv = kFp32 * 3 * N * Cl;
  const int64_t attention = std::max({datt + kBf16 * N * (C + Cl),
                                      datt + dqkv + attention_prepared + e * N * Cl + kFp32 * B * NHl * T,
                                      datt + dqkv + kBf16 * N * 3 * Cl});
  int64_t block = std::max({linear_forward, attention_prepared, mlp, attention});
  // Recomputation: a block's backward reruns its forward first, whose activations stay until
  // its backward is done (block.cpp backward; selective: attention.cpp attend's att and lse),
  // the prepared attention operands among them.
  if (recompute)
    block += kFp32 * block_activations(cfg, {tp, 1, 1}, micro_batch).all() -
             (kFp32 - kBf16) * block_product_inputs(cfg, {tp, 1, 1}, micro_batch) +
             kept_attention_operand_bytes(cfg, tp, micro_batch);
  // Head (model.cpp backward_stage): d lnf (N, C) fp32 under the head product's d logits
  // (N, head rows; in place over the logits) in bf16 (lnf_out is kept in bf16).
  const int64_t head = r.head_stage ? kFp32 * N * C + kBf16 * N * H : 0;
  const int local_layers = r.layers.second - r.layers.first;
  return std::max(local_layers > 0 ? block : 0, head) + kCublasWorkspace;
}

GpuMemory gpu_rank_memory(const ModelConfig& cfg, const RankPlan& r, const GridShape& shape, int micro_batch,
                          bool recompute) {
  const int64_t n = r.params.local();  // the tied copy included: it has its own grads and moments
  const int64_t C = cfg.channels, Cl = C / shape.tp, Fl = cfg.ffn_width() / shape.tp;
  const int local_layers = r.layers.second - r.layers.first;
  // The head's padding rows (model.cpp pad_head): fp32 weight and gradient, no AdamW state.
  const int64_t padding = r.head_stage ? (gpu_head_rows(r) - (r.vocab.second - r.vocab.first)) * C : 0;
  // bf16 working copies (layers/bf16_copy.h) of the matrices the products multiply: each
  // block's qkv (3 C_local, C), attn.proj (C, C_local), mlp.fc (F_local, C) and mlp.proj
  // (C, F_local) (linear.h weight16_), and the padded head (model.h head16_). Not the
  // embedding lookup's table on the first stage, nor learned positions: no product reads them.
  const int64_t copies = local_layers * (4 * C * Cl + 2 * C * Fl) + (r.head_stage ? gpu_head_rows(r) * C : 0);
  GpuMemory m;
  m.weights = (n + padding) * kFp32 + copies * kBf16;  // parameters.cpp make_parameter, model.cpp pad_head
  // Gradients beside the values (make_parameter, pad_head); with dp > 1 the DP buckets' flat
  // fp32 buffer of every local gradient (parallel/data_parallel.cpp).
  m.grads = (n + padding) * kFp32 + (shape.dp > 1 ? n * kFp32 : 0);
  m.optimizer = n * 2 * kFp32;  // optimizer.cpp: m and v of every local element
  m.activations = gpu_activation_bytes(cfg, r, shape.tp, micro_batch, recompute);
  m.scratch = gpu_scratch_bytes(cfg, r, shape.tp, micro_batch, recompute);
  return m;
}

double pipeline_bubble(int pp, int grad_accum) { return double(pp - 1) / double(grad_accum + pp - 1); }

namespace {

// 6 x the multiplying parameters of one stage's whole (all TP ranks) blocks, and of the
// head (LM head matmul and ln_f) on the last stage.
double block_flops_per_token(const ModelConfig& cfg, int local_layers) {
  const double C = cfg.channels, F = cfg.ffn_width(), T = cfg.seq_len;
  const double block_params = 4 * C + 3 * C * C + 3 * C + C * C + C + F * C + F + C * F + C;
  return local_layers * (6 * block_params + 12 * T * C);
}
double head_flops_per_token(const ModelConfig& cfg) {
  const double C = cfg.channels, V = cfg.vocab;
  return 6 * (V * C + 2 * C);
}

}  // namespace

double model_flops_per_token(const ModelConfig& cfg) {
  return block_flops_per_token(cfg, cfg.layers) + head_flops_per_token(cfg);
}

StageCosts stage_costs(const ModelConfig& cfg, Recompute recompute) {
  const double C = cfg.channels, F = cfg.ffn_width(), T = cfg.seq_len, V = cfg.vocab;
  StageCosts c;
  c.block = block_flops_per_token(cfg, 1);
  // Backward reruns the attention core's forward (scores and weighted values, 4 T C) or
  // the block's forward up to the MLP's hidden layer (a third of the block, less the MLP
  // projection 2 F C, which full recomputation skips).
  if (recompute == Recompute::selective) c.block += 4 * T * C;
  if (recompute == Recompute::full) c.block += c.block / 3 - 2 * F * C;
  // The lookup (a row copy forward, a row add backward) and, for learned or sinusoidal
  // positions, their add: a few flops per channel, next to nothing beside a block.
  c.embedding = 2 * C + (cfg.position == PositionMethod::learned || cfg.position == PositionMethod::sinusoidal ? 2 * C : 0);
  // The LM head's product forward and backward, ln_f, and the cross-entropy's passes over
  // the logits (max, exponentials and sum forward; exponentials and scale backward).
  c.head = head_flops_per_token(cfg) + 5 * V;
  return c;
}

LayoutEstimate estimate_layout(const ModelConfig& cfg, const Hardware& hw, const GridShape& shape, int micro_batch,
                               int grad_accum) {
  hw.validate();
  ALIBI_CHECK_AS(ConfigError, shape.world() == hw.gpus,
                 "world = tp*pp*dp fails: " << shape.tp << " x " << shape.pp << " x " << shape.dp
                                            << " is not --gpus " << hw.gpus);
  const std::vector<RankPlan> plan = plan_layout(cfg, shape, micro_batch, grad_accum);
  LayoutEstimate e;
  e.shape = shape;
  e.micro_batch = micro_batch;
  e.grad_accum = grad_accum;

  // ---- memory: the rank needing the most, without and with recomputation
  for (int rc = 0; rc < 2; ++rc) {
    for (const RankPlan& r : plan) {
      const GpuMemory m = gpu_rank_memory(cfg, r, shape, micro_batch, rc == 1);
      if (m.total() > e.memory[rc].total()) e.memory[rc] = m;
    }
    e.fits[rc] = double(e.memory[rc].total()) <= hw.usable_bytes();
  }
  e.recompute = !e.fits[0];  // neither fits: estimate the run with recomputation anyway

  // ---- which groups leave the node: TP never (tp divides gpus_per_node); DP, PP and the
  // tied-embedding pair when any of their ranks sit on different nodes
  const int tp = shape.tp, pp = shape.pp, dp = shape.dp, G = hw.gpus_per_node;
  bool dp_in_node = true, pp_in_node = true;
  for (int rank = 0; rank < shape.world(); ++rank) {
    const GridCoord c = grid_coord(shape, rank);
    if (c.dp_rank + 1 < dp) dp_in_node &= same_node(rank, rank + tp, G);
    if (c.pp_rank + 1 < pp) pp_in_node &= same_node(rank, rank + tp * dp, G);
  }
  const bool tp_in_node = G % tp == 0;
  const double tp_gbs = tp_in_node ? hw.intra_node_gbs : hw.inter_node_gbs;
  const double dp_gbs = dp_in_node ? hw.intra_node_gbs : hw.inter_node_gbs;
  const double pp_gbs = pp_in_node ? hw.intra_node_gbs : hw.inter_node_gbs;

  // ---- one micro-batch on each stage (dp_rank 0, tp_rank 0 stands for its TP group)
  const double N = double(micro_batch) * cfg.seq_len, C = cfg.channels;
  const double flops_per_s = tp * hw.tflops * 1e12 * hw.mfu;  // a TP group's matmuls
  const double activation_ar = all_reduce_s(N * C * kBf16, tp, tp_gbs);  // one (N, C) bf16 all-reduce
  const double statistic_ar = all_reduce_s(N * kFp32, tp, tp_gbs);        // one (N) fp32 all-reduce
  const double p2p = N * C * kBf16 / (pp_gbs * 1e9);                      // one (N, C) bf16 message
  const double recompute_factor = e.recompute ? 4.0 / 3.0 : 1.0;
  double busy_sum = 0;
  for (const RankPlan& r : plan) {
    if (r.coord.dp_rank != 0 || r.coord.tp_rank != 0) continue;
    const int local_layers = r.layers.second - r.layers.first;
    const double flops = N * (block_flops_per_token(cfg, local_layers) * recompute_factor +
                              (r.head_stage ? head_flops_per_token(cfg) : 0.0));
    // Per block: attention and MLP all-reduce forward (reduce_from_tp) and backward
    // (copy_to_tp); recomputation repeats the forward two. The embedding's lookup sums
    // over TP forward; the head's input gradient backward, and the cross-entropy's row
    // max, sum of exponentials and target logit forward.
    const double tp_comm = (local_layers * (e.recompute ? 6 : 4) + (r.embedding_stage ? 1 : 0) +
                            (r.head_stage ? 1 : 0)) * activation_ar +
                           (r.head_stage ? 3 : 0) * statistic_ar;
    // Receives: activations from the previous stage, their gradient from the next.
    const double recv = ((r.coord.pp_rank > 0 ? 1 : 0) + (r.head_stage ? 0 : 1)) * p2p;
    const double compute = flops / flops_per_s;
    const double t = compute + tp_comm + recv;
    busy_sum += t;
    if (t > e.stage_s) {
      e.stage_s = t;
      e.tp_comm_s = tp_comm;
    }
    // DP: the gradients (fp32) are all-reduced bucket by bucket during the last micro-
    // batch's backward; half hides behind it, at most as long as that backward.
    const double dp_ar = all_reduce_s(double(r.params.local()) * kFp32, dp, dp_gbs);
    const double backward = compute * (e.recompute ? 3.0 / 4.0 : 2.0 / 3.0);
    e.dp_exposed_s = std::max(e.dp_exposed_s, dp_ar - std::min(dp_ar / 2, backward));
    // The tied embedding's two copies (first and last stage) sum their gradients.
    if (r.params.tied_copy > 0) {
      e.embedding_sync_s = std::max(e.embedding_sync_s, all_reduce_s(double(r.params.tied_copy) * kFp32, 2, pp_gbs));
    }
    const double traffic = kOptimizerTraffic + (dp > 1 ? kBucketTraffic : 0.0);
    e.optimizer_s = std::max(e.optimizer_s, double(r.params.local()) * traffic / (hw.hbm_gbs * 1e9));
  }
  const int M = grad_accum;
  e.bubble = pipeline_bubble(pp, M);
  e.pipeline_s = (M + pp - 1) * e.stage_s;
  e.idle = 1.0 - M * busy_sum / (pp * e.pipeline_s);
  e.step_s = e.pipeline_s + e.dp_exposed_s + e.embedding_sync_s + e.optimizer_s;
  const double tokens = double(micro_batch) * M * dp * cfg.seq_len;
  e.tokens_per_s = tokens / e.step_s;
  e.mfu = model_flops_per_token(cfg) * e.tokens_per_s / (hw.gpus * hw.tflops * 1e12);
  return e;
}

std::vector<LayoutEstimate> scaling_study(const ModelConfig& cfg, const Hardware& hw, int64_t global_batch) {
  cfg.validate();
  hw.validate();
  ALIBI_CHECK_AS(ConfigError, global_batch >= 1, "--global-batch must be at least 1 window (got " << global_batch << ")");
  std::vector<LayoutEstimate> out;
  for (int tp = 1; tp <= hw.gpus_per_node && tp <= hw.gpus; tp *= 2) {
    if (cfg.heads % tp != 0 || cfg.ffn_width() % tp != 0 || hw.gpus_per_node % tp != 0 || hw.gpus % tp != 0) continue;
    for (int pp = 1; pp <= cfg.layers && tp * pp <= hw.gpus; ++pp) {
      if (hw.gpus % (tp * pp) != 0) continue;
      const int dp = hw.gpus / (tp * pp);
      for (int64_t mb = 1; mb * dp <= global_batch; mb *= 2) {
        if (global_batch % (mb * dp) != 0) continue;
        const int64_t M = global_batch / (mb * dp);
        out.push_back(estimate_layout(cfg, hw, {tp, pp, dp}, static_cast<int>(mb), static_cast<int>(M)));
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const LayoutEstimate& a, const LayoutEstimate& b) {
    if (a.fits_any() != b.fits_any()) return a.fits_any();
    if (a.fits_any() && a.tokens_per_s != b.tokens_per_s) return a.tokens_per_s > b.tokens_per_s;
    return a.run_memory().total() < b.run_memory().total();
  });
  return out;
}

}  // namespace alibi
