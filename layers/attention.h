// Causal self-attention: fused QKV projection (heads interleaved head-major, so a
// tensor-parallel shard of heads is a contiguous block of rows), the blocked attention
// kernel with the ALiBi bias formed inside it, and the output projection.
//
// Shapes (N = B*T): inp (B, T, C) -> qkv (B, T, NH, 3, HS) -> att (B, T, NH, HS) -> out (B, T, C).
// The QKV weight is (NH*3*HS, C): row h*3*HS + s*HS + d is head h's q (s=0), k (1) or v (2).
//
// Tensor parallel over heads: a rank holds heads [head_offset, head_offset + NH) of
// n_heads_total, i.e. a contiguous block of QKV rows (column-parallel, after copy_to_tp)
// and the matching columns of the output projection (row-parallel, then reduce_from_tp).
// Its ALiBi slopes come from the *global* head index inside the kernel.
#pragma once

#include <string>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "layers/kv_cache.h"
#include "layers/linear.h"
#include "parallel/comm.h"

namespace alibi {

struct AttentionShape {
  int C = 0;              // model width
  int NH = 0;             // heads held here
  int head_offset = 0;    // global index of the first local head
  int n_heads_total = 0;  // global heads (slopes depend on it, never on NH local)
  PositionBias bias = PositionBias::alibi;
  // t5: the (32 buckets, NH local) relative-bias table shared by every layer, and its
  // gradient (+=); owned by the model, which outlives the layers.
  Tensor* t5_table = nullptr;
  Tensor* t5_table_grad = nullptr;
};

template <class Real>
class Attention {
 public:
  Attention() = default;
  // proj_std: init std of the output projection (GPT-2 scales residual projections).
  // tp: the tensor-parallel group (a SelfCommunicator when unsharded); must outlive this.
  Attention(const std::string& name, const AttentionShape& shape, double proj_std, uint64_t seed,
            const Communicator& tp);

  // out (B, T, C) `=`. Keeps qkv, att and lse for backward, and on CUDA's tensor cores the
  // attention kernel's prepared bf16 q, k, v, which backward reads instead of preparing again.
  void forward(Tensor& out, const Tensor& inp, int B, int T);
  // dinp `=` given dout (B, T, C); parameter grads `+=`. inp must be forward's input.
  void backward(Tensor& dinp, const Tensor& dout, const Tensor& inp);
  // Generation: out (T, C) `=` for the next T tokens of one stream, whose keys and values
  // join layer `layer` of the cache (reserved for them, kv_cache.h). Into an empty cache
  // the blocked kernel runs (the prompt); otherwise attention_decode, over the cache.
  void forward_cached(Tensor& out, const Tensor& inp, int T, KvCache& cache, int layer);
  // Drops qkv, att, lse and the prepared operands (see Block::release_activations).
  void release_activations();
  // Selective recomputation (layers/recompute.h): forward keeps qkv only; backward runs the
  // attention kernel again for att, lse and the prepared operands, and drops them after.
  void set_recompute_core(bool on) { recompute_core_ = on; }

  void collect(ParameterList& params);
  const AttentionShape& shape() const { return shape_; }
  // The CUDA products of the projections and the attention kernel.
  void set_precision(MatmulPrecision precision);

  Linear<Real> qkv;   // C -> NH*3*HS, column-parallel
  Linear<Real> proj;  // NH*HS -> C, row-parallel

 private:
  AttentionParams<Real> params(int B, int T) const;
  DecodeParams<Real> decode_params(int T, KvCache& cache, int layer);
  void ensure_activations(int B, int T, Device device);
  void ensure_prepared(int B, int T, Device device);
  void attend(int B, int T);  // att and lse `=` from qkv: the attention core
  AttentionShape shape_;
  MatmulPrecision precision_ = MatmulPrecision::fp32;
  const Communicator* tp_ = nullptr;
  int HS_ = 0;
  int B_ = 0, T_ = 0;
  bool recompute_core_ = false;
  Tensor qkv_act_;  // (B, T, NH, 3, HS)
  Tensor att_;      // (B, T, NH, HS); with recompute_core_ only while forward or backward needs it
  Tensor lse_;      // (B, NH, T); likewise
  // (3, B, NH, T, HS) bf16 bits: the kernel's prepared q, k, v (AttentionParams::prepared),
  // where the backend keeps them (CUDA tensor cores), else undefined; likewise with
  // recompute_core_. Kept beside qkv_act_, not instead of it: selective recomputation and
  // generation read qkv_act_.
  Tensor prepared_;
};

}  // namespace alibi
