// The GPT-style language model: token embedding (no position embedding with ALiBi:
// positions live in the attention scores), L pre-LN blocks, a final LayerNorm and the LM
// head, tied to the embedding by default.
//
//   Model<float> model(config, seed);                         // the whole model, one process
//   double loss_sum = model.forward(tokens, targets, B, T);   // sum over scored targets
//   model.backward(1.0f / n_targets);                         // grads += d(mean loss)
//   for (const ParamRef& p : model.parameters()) ...          // names, values, grads
//
// Under a process grid a Model is one rank's part: pipeline stage pp_rank's blocks
// (stage_layers), the TP shard of each (heads, F columns), and on the first and last
// stage the TP shard of the vocabulary (vocab-parallel embedding, LM head and
// cross-entropy: no rank ever holds full logits). With a tied head and pp > 1 the last
// stage holds a copy of the embedding shard (ParamRef::tied_copy) kept equal by summing
// the two copies' gradients over grid.embedding().
//
// Micro-batches in flight (the 1F1B schedule) each keep their activations in a slot. A
// slot's blocks are copies of the model's blocks: Tensor copies share storage, so every
// slot reads and accumulates the same parameters and gradients, and owns its activations.
// So parameters must be updated in place (copy_from, data pointers), never rebound.
#pragma once

#include <functional>
#include <vector>

#include "layers/block.h"
#include "layers/kv_cache.h"
#include "parallel/grid.h"
#include "runtime/config.h"

namespace alibi {

// The LM head's vocabulary rows on CUDA are a multiple of this: whole tensor-core tiles
// (Model::set_vocab_multiple; alibi plan's GPU memory model counts them).
constexpr int kGpuVocabMultiple = 64;
inline int64_t padded_rows(int64_t rows, int multiple) { return (rows + multiple - 1) / multiple * multiple; }

template <class Real>
class Model {
 public:
  Model(const ModelConfig& config, uint64_t seed);
  Model(const ModelConfig& config, uint64_t seed, const ProcessGrid& grid);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // ---- one process, one micro-batch (slot 0) ----
  // tokens, targets (B, T) int32; a negative target is not scored. Returns the sum of the
  // scored targets' losses. With targets null, computes logits only.
  double forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
    return forward_stage(0, tokens, targets, B, T);
  }
  // Gradients `+=` of scale * (the loss sum forward returned).
  void backward(Real scale) { backward_stage(0, scale); }

  // ---- a pipeline stage's micro-batch in slot `slot` ----
  // The first stage embeds `tokens`; the others start from stage_input(slot). The last
  // stage returns the sum of scored losses (0 elsewhere). With for_backward false (an
  // evaluation) each block drops its activations once the next one has its input, so
  // memory holds one block's activations instead of every block's; no backward may follow.
  double forward_stage(int slot, const int32_t* tokens, const int32_t* targets, int B, int T,
                       bool for_backward = true);
  // The last stage starts from its losses; the others from stage_output_grad(slot).
  // Afterwards stage_input_grad(slot) holds d(scaled loss)/d(stage input).
  // on_block_done(l) runs after global block l's backward (for DP gradient buckets).
  void backward_stage(int slot, Real scale, const std::function<void(int)>& on_block_done = {});
  Tensor& stage_input(int slot, int B, int T);        // (B*T, C), for the caller to fill
  Tensor& stage_output(int slot);                      // (B*T, C) after forward_stage
  Tensor& stage_output_grad(int slot, int B, int T);  // (B*T, C), for the caller to fill
  Tensor& stage_input_grad(int slot);                  // (B*T, C) after backward_stage

  // ---- generation: one stream through a KV cache (layers/model_decode.cpp; pp = 1) ----
  // A cache for this rank's layers and heads: capacity positions, window 0 = unlimited.
  KvCache make_cache(int64_t capacity, int64_t window = 0) const;
  // The next T tokens of the stream (at positions cache.next_position() ...) through the
  // blocks and into the cache: an empty cache takes them through the blocked attention
  // kernel (the prompt), a filled one through attention_decode. Returns the logits
  // (rows, V_local) of this rank's vocabulary shard at the last `rows` of the T positions:
  // 1 for the next token's distribution, T for every position (tests). Valid until the
  // next call.
  const Tensor& forward_cached(const int32_t* tokens, int T, KvCache& cache, int rows = 1);

  int64_t scored_targets(int slot = 0) const { return slots_.at(slot).scored; }
  const Tensor& losses(int slot = 0) const { return slots_.at(slot).losses; }  // (B*T), last stage
  // (B*T, head_rows()) after a forward, last stage (the logits of the whole window; until a
  // backward turns them into their gradient): the first V_local columns are the shard's
  // vocabulary, the rest the head's padding (zero, never scored).
  const Tensor& logits(int slot = 0) const { return slots_.at(slot).logits; }

  // Moves parameters and gradients to `device`, before the first forward; activations are
  // then allocated there too. Device::cuda needs float and a CUDA device (DeviceError).
  // `precision`: the linear layers' products (kernels/precision.h), resolved for `device`
  // (ops::resolve_precision: auto is bf16 on CUDA, fp32 on the CPU; bf16 on the CPU needs oneDNN).
  void to_device(Device device, MatmulPrecision precision = MatmulPrecision::automatic);
  Device device() const { return device_; }
  // What each block keeps for backward (layers/recompute.h); before the first forward, as
  // the slots copy the template blocks. The gradients are the same bits in every mode.
  void set_recompute(Recompute mode);
  // The LM head's GEMMs run on the shard's V_local vocabulary rows rounded up to a multiple
  // of `multiple` (tensor-core tiles want 64: to_device(cuda) sets it). The padding rows of
  // the head weight and of its gradient are zero and stay zero, the padding logits are never
  // scored; parameters(), checkpoints and the optimizer see the V_local rows only. Before
  // the first forward. Generation's few-row head products are not padded.
  void set_vocab_multiple(int multiple);
  int64_t head_rows() const { return head_rows_; }
  // The padded head (head_rows(), C) and its gradient: parameter rows, then the padding.
  const Tensor& padded_head() const { return head_w_; }
  const Tensor& padded_head_grad() const { return head_dw_; }
  // The padded head's bf16 working copy (used under bf16 precision; layers/bf16_copy.h).
  const Bf16Copy& head_copy() const { return head16_; }
  Recompute recompute() const { return recompute_; }
  MatmulPrecision precision() const { return precision_; }

  const ParameterList& parameters() const { return params_; }
  // Every gradient to zero before a step, the head's padding rows too: a step whose
  // backward went non-finite leaves NaN there (Inf * 0), and the head's GEMM accumulates.
  void zero_grads();
  const ModelConfig& config() const { return config_; }
  const ProcessGrid& grid() const { return grid_; }
  std::pair<int, int> layer_range() const { return {first_layer_, first_layer_ + static_cast<int>(blocks.size())}; }
  bool has_embedding() const { return grid_.first_stage(); }
  bool has_head() const { return grid_.last_stage(); }
  std::pair<int64_t, int64_t> vocab_range() const { return {v0_, v1_}; }

  Tensor wte, dwte;          // (V_local, C) embedding shard; first stage, and last when tied
  Tensor wpe, dwpe;          // (max_positions, C) learned positions, first stage
  Tensor t5, dt5;            // (32, NH_local) T5 relative-bias buckets, shared by all layers
  std::vector<Block<Real>> blocks;  // this stage's blocks (templates for the slots; never run)
  LayerNorm<Real> ln_f;      // last stage
  Linear<Real> lm_head;      // (V_local, C), last stage, only when not tied

 private:
  struct Slot {
    std::vector<Block<Real>> blocks;  // copies: shared parameters, own activations
    std::vector<Tensor> residuals;    // local L+1 tensors (N, C): stage input, each block's out
    Tensor dres;                      // (N, C) residual-stream gradient
    Tensor lnf_out, lnf_mean, lnf_rstd;
    Tensor logits;                    // (N, V_local); dlogits after backward
    Tensor losses, row_max;           // (N)
    Tensor sum_exp, target_logit;     // (N) double
    std::vector<int32_t> tokens, local_tokens, targets;
    int B = 0, T = 0;
    int64_t scored = 0;
    bool pending_backward = false;
  };
  // Generation's own blocks (copies sharing the parameters) and buffers.
  struct Decoder {
    std::vector<Block<Real>> blocks;
    Tensor x, y;                        // (T, C) the residual stream, ping-pong over blocks
    Tensor lnf_out, lnf_mean, lnf_rstd; // (rows, C), (rows), (rows)
    Tensor logits;                      // (rows, V_local)
    std::vector<int32_t> local_tokens;
  };
  Slot& slot(int index);
  void ensure_buffers(Slot& s, int B, int T);
  const Tensor& head_weight() const { return config_.tie_embeddings ? wte : lm_head.weight; }
  // head_w_'s bf16 working copy under bf16 precision (float models), else null: its first
  // V_local rows are head_weight()'s copy too (generation's unpadded products).
  const uint16_t* head_bf16();
  void pad_head();  // head_w_/head_dw_ at head_rows_, the parameters rebound as their first rows
  void add_positions(Tensor& x, int B, int T, int64_t pos0 = 0);  // after the token lookup; positions pos0..
  void positions_backward(Slot& s, Tensor& dx_tokens);            // dx_tokens: grad of the lookup

  ModelConfig config_;
  ProcessGrid grid_;
  Device device_ = Device::cpu;
  MatmulPrecision precision_ = MatmulPrecision::fp32;
  Recompute recompute_ = Recompute::none;
  int first_layer_ = 0;
  int64_t v0_ = 0, v1_ = 0;
  int vocab_multiple_ = 1;
  int64_t head_rows_ = 0;  // V_local rounded up to vocab_multiple_
  Tensor head_w_, head_dw_;  // (head_rows_, C): the head's GEMM operands (last stage)
  // head_w_ in bf16 (layers/bf16_copy.h): shares its storage version with the tied embedding
  // or lm_head.weight it pads, so their optimizer step renews it.
  Bf16Copy head16_;
  ParameterList params_;
  std::vector<Slot> slots_;
  Decoder decoder_;
  Tensor sinusoids_;  // (T, C) table of the last positions pos0..pos0+T-1 seen, sinusoidal
  int64_t sinusoids_pos0_ = 0;
};

}  // namespace alibi
