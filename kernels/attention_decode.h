// Attention of a few new tokens against a KV cache (generation): the same scores, position
// biases and softmax as the blocked kernel of kernels/attention.h, for Tq new queries (one,
// while decoding) whose keys and values are the cache's past positions plus their own.
//
//   DecodeParams<float> p;                       // this step's fused qkv rows (Tq, NH, 3, HS)
//   p.q = qkv; p.k = qkv + HS; p.v = qkv + 2 * HS; p.row_stride = 3 * NH * HS; p.head_stride = 3 * HS;
//   p.k_cache = k; p.v_cache = v; p.cache_head_stride = capacity * HS;   // (NH, capacity, HS)
//   p.first_slot = 0; p.n_keys = past + Tq; p.first_position = 0; p.Tq = Tq; ...
//   cpu::kv_cache_append(p);    // this step's k (rotated, for rotary) and v into their slots
//   cpu::attention_decode(p);   // out (Tq, NH, HS)
//
// Positions are token indices in the stream. Visible key j (0 <= j < n_keys) sits in slot
// first_slot + j at position first_position + j; the Tq new tokens are the last Tq of them,
// so query r is at position i = first_position + n_keys - Tq + r and sees keys j with
// position <= i (and > i - window when a window is set). The score of query i, key at
// position p, local head h (global head head_offset + h) is, as in kernels/attention.h:
//   s = (q_i . k_p) / sqrt(HS)  [- slope(head_offset + h, n_heads_total) * (i - p)]    alibi
//                               [+ t5_table[t5_bucket(i - p) * NH + h]]                  t5
// with q_i and k_p turned by their positions for rotary; the bias is formed from the two
// integer positions inside the kernel, in Real (fp32 or double), never stored. Cached keys
// are stored already rotated (kv_cache_append turns them once), so a step turns only its
// own queries.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace alibi {

template <class Real>
struct DecodeParams {
  // This step's Tq rows: element (t, h, d) of q is q[t*row_stride + h*head_stride + d]; k and
  // v use the same strides (they live interleaved in the fused qkv activation).
  const Real* q = nullptr;
  const Real* k = nullptr;
  const Real* v = nullptr;
  int64_t row_stride = 0;
  int64_t head_stride = 0;
  // The cache of this layer's local heads, (NH, capacity, HS) each: slot s of head h is
  // k_cache[h*cache_head_stride + s*HS] (its key, rotated for rotary) and v_cache[...] (value).
  Real* k_cache = nullptr;
  Real* v_cache = nullptr;
  int64_t cache_head_stride = 0;  // capacity * HS
  int64_t capacity = 0;           // slots per head
  int64_t first_slot = 0;         // slot of visible key 0
  int64_t n_keys = 0;             // visible keys, this step's Tq included (they are the last)
  int64_t first_position = 0;     // stream position of visible key 0
  int64_t window = 0;             // 0: every visible key; else keys at positions > i - window
  // Output (Tq, NH, HS), contiguous.
  Real* out = nullptr;
  int Tq = 0;  // new tokens
  int NH = 0;  // heads held here (NH_local under tensor parallelism)
  int HS = 0;  // head size
  int head_offset = 0;    // global index of local head 0
  int n_heads_total = 0;  // global head count (for the ALiBi slopes)
  PositionBias bias = PositionBias::alibi;
  double rope_base = 10000;  // rotary, as AttentionParams
  const Real* t5_table = nullptr;  // t5: (t5_buckets, NH) local heads, as AttentionParams
  int t5_buckets = 32;
  int t5_max_distance = 128;
};

// Shapes, slots and pointers at the host boundary (ShapeError naming what was expected).
template <class Real>
void check_decode_params(const DecodeParams<Real>& p, const char* who);

namespace cpu {

// Cache slots first_slot + n_keys - Tq + t `=` this step's k (turned by its position for
// rotary) and v rows t = 0..Tq-1, every local head.
template <class Real>
void kv_cache_append(const DecodeParams<Real>& p);

// out `=` the attention of the Tq queries over the visible keys (cache slots, written by
// kv_cache_append for this step's own keys first).
template <class Real>
void attention_decode(const DecodeParams<Real>& p);

}  // namespace cpu
}  // namespace alibi
