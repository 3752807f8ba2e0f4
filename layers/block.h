// A pre-LN transformer block with residual connections:
//   r = x + Attention(LN1(x));   out = r + MLP(LN2(r))
#pragma once

#include <string>

#include "layers/attention.h"
#include "layers/layernorm.h"
#include "layers/mlp.h"
#include "layers/recompute.h"

namespace alibi {

template <class Real>
class Block {
 public:
  Block() = default;
  // attn: this rank's heads; F: the global feed-forward width; tp must outlive the block.
  Block(const std::string& name, const AttentionShape& attn, int64_t F, int n_layers, uint64_t seed,
        const Communicator& tp);

  // out (B, T, C) `=`. Keeps a handle on x and the activations backward needs (with
  // Recompute::full only the handle on x; selective: see Attention::set_recompute_core).
  void forward(Tensor& out, const Tensor& x, int B, int T);
  // Generation: out (T, C) `=` for the next T tokens of one stream through the KV cache's
  // layer `layer` (Attention::forward_cached).
  void forward_cached(Tensor& out, const Tensor& x, int T, KvCache& cache, int layer);
  // dres: on entry dL/d(out), on return dL/d(x) (the residual stream, updated in place).
  // With Recompute::full it first reruns forward from x (the TP all-reduces included, so
  // every rank of the TP group recomputes together) and drops the activations after.
  void backward(Tensor& dres);
  // Drops the activations forward kept (an evaluation's forward needs no backward): their
  // storage goes back to the caching allocator, where the next block's forward finds the
  // same sizes. The next forward allocates them again.
  void release_activations();

  void collect(ParameterList& params);
  void set_recompute(Recompute mode) {
    recompute_ = mode;
    attn.set_recompute_core(mode == Recompute::selective);
  }
  void set_precision(MatmulPrecision precision) {
    precision_ = precision;
    attn.set_precision(precision);
    mlp.set_precision(precision);
  }

  LayerNorm<Real> ln1;
  Attention<Real> attn;
  LayerNorm<Real> ln2;
  Mlp<Real> mlp;

 private:
  // The block around an attention call attend(branch_out, ln1_out).
  template <class Attend>
  void forward_with(Tensor& out, const Tensor& x, int64_t N, Attend&& attend);
  // forward_with up to the MLP's input: ln1, attention, the residual r, ln2.
  template <class Attend>
  void forward_to_mlp(const Tensor& x, int64_t N, Attend&& attend);

  int64_t C_ = 0;
  int B_ = 0, T_ = 0;                 // of the last forward (a full recomputation's shape)
  Recompute recompute_ = Recompute::none;
  MatmulPrecision precision_ = MatmulPrecision::fp32;  // the products'; picks the LayerNorm outputs' dtype
  Tensor x_;                          // (B, T, C) input, owned by the previous layer
  Tensor ln1_out_, ln1_mean_, ln1_rstd_;  // (N, C), (N), (N); the outputs bf16 under bf16 precision
  Tensor residual_;                   // (N, C) r = x + attention
  Tensor ln2_out_, ln2_mean_, ln2_rstd_;
  Tensor branch_;                     // (N, C) scratch for a branch's output
};

}  // namespace alibi
