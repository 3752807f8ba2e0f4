// Causal multi-head attention with in-kernel position biases, computed blockwise with an
// online softmax (FlashAttention-2's algorithm on the CPU): no T x T score, probability
// or bias tensor ever exists; working memory is O(block^2) per thread, and what is saved
// for the backward is the output and one log-sum-exp per query row, O(T).
//
//   // q, k, v interleaved in one fused qkv activation (B, T, NH, 3, HS):
//   AttentionParams<float> p = fused_qkv_params(qkv, out, lse, B, T, NH, HS);
//   p.head_offset = 0; p.n_heads_total = NH; p.bias = PositionBias::alibi;
//   cpu::attention_forward(p);
//
// Score of query i, key j <= i in local head h (global index head_offset + h), positions
// 0-based within the window; the element math is in kernels/positions.h:
//   s = (q_i . k_j) / sqrt(HS)                                                       [none]
//   s = (q_i . k_j) / sqrt(HS)  - slope(head_offset + h, n_heads_total) * (i - j)    [alibi]
//   s = (R_i q_i . R_j k_j) / sqrt(HS), R_t turning pair (d, d + HS/2) by             [rotary]
//       t * rope_base^(-2d/HS) (v is not rotated; HS must be even)
//   s = (q_i . k_j) / sqrt(HS)  + t5_table[t5_bucket(i - j) * NH + h]                 [t5]
// formed in fp32 (or double) inside the block loop. Queries attend to keys 0..i.
// Rotary works on rotated copies of one head's q and k (O(T HS) per thread); T5 looks its
// bias up per tile from a per-distance bucket index (O(T) per call). For T5 set
//   p.bias = PositionBias::t5; p.t5_table = table; p.t5_table_grad = dtable;  // (32, NH) each
#pragma once

#include <cstdint>

#include "kernels/precision.h"

namespace alibi {

enum class PositionBias { none, alibi, rotary, t5 };

inline const char* position_bias_name(PositionBias b) {
  switch (b) {
    case PositionBias::none: return "none";
    case PositionBias::alibi: return "alibi";
    case PositionBias::rotary: return "rotary";
    case PositionBias::t5: return "t5";
  }
  return "?";
}

// Real: float (training) or double (gradient checks); T is the sequence length.
template <class Real>
struct AttentionParams {
  // Inputs: element (b, t, h, d) of q is q[b*batch_stride + t*row_stride + h*head_stride + d];
  // k and v use the same strides (they live interleaved in the fused qkv activation).
  const Real* q = nullptr;
  const Real* k = nullptr;
  const Real* v = nullptr;
  int64_t batch_stride = 0;
  int64_t row_stride = 0;
  int64_t head_stride = 0;
  // Output (B, T, NH, HS), contiguous.
  Real* out = nullptr;
  // Log-sum-exp of each query row's scaled, biased scores (B, NH, T); written by forward,
  // read by backward.
  Real* lse = nullptr;
  int B = 0;    // batch
  int T = 0;    // sequence length
  int NH = 0;   // heads held here (NH_local under tensor parallelism)
  int HS = 0;   // head size
  int head_offset = 0;    // global index of local head 0
  int n_heads_total = 0;  // global head count (for the ALiBi slopes)
  PositionBias bias = PositionBias::alibi;
  // rotary: theta_d = rope_base^(-2d/HS) for pair d in [0, HS/2).
  double rope_base = 10000;
  // t5: the learned bias of (bucket, local head h) is t5_table[bucket * NH + h]; a
  // tensor-parallel rank passes the columns of its own heads. Buckets as T5's causal
  // _relative_position_bucket(i - j, t5_buckets, t5_max_distance).
  const Real* t5_table = nullptr;  // (t5_buckets, NH) local heads
  Real* t5_table_grad = nullptr;   // (t5_buckets, NH), += by backward
  int t5_buckets = 32;
  int t5_max_distance = 128;
  // CUDA: bf16/tf32 tensor-core products (at head sizes 32, 64, 128) or the exact fp32
  // kernels; the CPU is exact whatever it says.
  MatmulPrecision precision = MatmulPrecision::bf16;
  // CUDA tensor-core path only (ops::attention_prepared_elements says when; null elsewhere):
  // a caller-owned (3, B, NH, T, HS) array of bf16 bits for the kernels' prepared operands,
  // q, k, v head-major, rounded, q and k turned by rotary's angles. The forward writes them
  // into it; the backward reads them from it and reads no p.q, p.k, p.v (they may be null),
  // so the two share one preparation. Without it each call prepares its own temporary. The
  // CPU kernels and CUDA's exact fp32 kernels neither read nor write it.
  uint16_t* prepared = nullptr;
};

// Params over one fused qkv activation (B, T, NH, 3, HS), as the attention layer keeps it:
// q, k, v interleaved per head; out (B, T, NH, HS) and lse (B, NH, T) contiguous. The
// position fields keep their defaults (ALiBi, local heads = all NH global heads); set
// head_offset, n_heads_total, bias and the T5 table afterwards where they differ.
template <class Real>
AttentionParams<Real> fused_qkv_params(const Real* qkv, Real* out, Real* lse, int B, int T, int NH, int HS) {
  AttentionParams<Real> p;
  p.q = qkv;
  p.k = qkv + HS;
  p.v = qkv + 2 * HS;
  p.head_stride = 3 * HS;
  p.row_stride = int64_t{3} * NH * HS;
  p.batch_stride = int64_t{T} * p.row_stride;
  p.out = out;
  p.lse = lse;
  p.B = B;
  p.T = T;
  p.NH = NH;
  p.HS = HS;
  p.n_heads_total = NH;
  return p;
}

// The host boundary of both backends: shapes, strides and pointers, with messages that
// print what was expected (ShapeError for shapes, an internal error for missing pointers).
template <class Real>
void check_attention_params(const AttentionParams<Real>& p, const char* who);

// The checks of a position bias's own parameters, shared by the blocked and the decode
// kernels: rotary needs an even HS and a positive base, t5 a table of this rank's NH heads
// and sane buckets.
void check_position_bias_params(PositionBias bias, int HS, int NH, double rope_base, bool has_t5_table,
                                int t5_buckets, int t5_max_distance, const char* who);

namespace cpu {

// out `=`, lse `=`.
template <class Real>
void attention_forward(const AttentionParams<Real>& p);

// Gradients dq, dk, dv `=`, written with the same strides as q, k, v (so into one fused
// dqkv buffer when they point there); dout (B, T, NH, HS) contiguous. Recomputes the
// scores block by block from q, k, v and p.lse; p.out is read for the row sums D = dout.out.
// t5: p.t5_table_grad `+=` the sum of dL/ds over each (bucket, head), reduced in a fixed
// order, so bitwise the same for any thread count.
template <class Real>
void attention_backward(const AttentionParams<Real>& p, const Real* dout, Real* dq, Real* dk,
                        Real* dv);

}  // namespace cpu
}  // namespace alibi
