// Attention of new tokens against a KV cache on the CPU (kernels/attention_decode.h): the
// blocked kernel's scores, biases and softmax weights (kernels/positions.h, softmax_exp.h)
// for one query row at a time: the scores K q, the bias, the weights, then V^T p. Memory:
// per thread one row of scores over the visible keys.
#include "kernels/attention_decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/alibi.h"
#include "kernels/cpu/softmax_exp.h"
#include "kernels/positions.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

namespace alibi::cpu {
namespace {

// Work (Tq x NH x keys x HS multiply-adds, each done twice) from which a step is split over
// the threads: below it, waking the team costs more than the work it shares.
constexpr int64_t kDecodeParallelMin = int64_t{1} << 17;

// Rotary's cos, then sin, of each (row, pair) at positions pos0 .. pos0 + rows - 1: the
// values the blocked kernel's table holds for the same positions (angles in double).
template <class T>
Tensor rope_rows(int64_t pos0, int rows, int HS, double base) {
  const int half = HS / 2;
  Tensor table = Tensor::empty({2, (int64_t)rows, half}, dtype_of<T>());
  T* c = table.data<T>();
  T* s = c + (int64_t)rows * half;
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < half; ++d) {
      const double a = rope_angle(static_cast<int>(pos0 + r), d, HS, base);
      c[(int64_t)r * half + d] = static_cast<T>(std::cos(a));
      s[(int64_t)r * half + d] = static_cast<T>(std::sin(a));
    }
  return table;
}

// One head-sized row turned by its row of the table (cos at c, sin at c + rows * HS/2).
template <class T>
void rotate_row(T* dst, const T* src, const T* c, const T* s, int HS) {
  const int half = HS / 2;
  for (int d = 0; d < half; ++d) {
    T x0 = src[d], x1 = src[d + half];
    rope_rotate(x0, x1, c[d], s[d]);
    dst[d] = x0;
    dst[d + half] = x1;
  }
}

// s[c] = scale * (q . k_c) over n keys of HS contiguous values: one short dot product per
// key, vectorised over the head. (OpenBLAS's GEMV for this shape, n x HS with HS = 32..128,
// was 3x slower than these loops at 8k keys, and it ran most of a decode step.)
template <class T>
void key_scores(T* s, const T* k, const T* q, int64_t n, int HS, T scale) {
  for (int64_t c = 0; c < n; ++c) {
    const T* kc = k + c * HS;
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int d = 0; d < HS; ++d) acc += q[d] * kc[d];
    s[c] = scale * acc;
  }
}

// out = scale * sum_c w[c] v_c. Keys of weight exactly 0 are skipped, which leaves the sum
// unchanged: ALiBi's far keys get weight 0 (softmax_exp flushes below e^-64), so at long
// contexts most value rows of the steep heads are never read.
template <class T>
void weighted_values(T* out, const T* v, const T* w, int64_t n, int HS, T scale) {
  std::fill(out, out + HS, T(0));
  for (int64_t c = 0; c < n; ++c) {
    const T wc = w[c];
    if (wc == T(0)) continue;
    const T* vc = v + c * HS;
#pragma omp simd
    for (int d = 0; d < HS; ++d) out[d] += wc * vc[d];
  }
#pragma omp simd
  for (int d = 0; d < HS; ++d) out[d] *= scale;
}

}  // namespace

template <class T>
void kv_cache_append(const DecodeParams<T>& p) {
  check_decode_params(p, "kv_cache_append");
  const int HS = p.HS, half = HS / 2;
  const int64_t slot0 = p.first_slot + p.n_keys - p.Tq, pos0 = p.first_position + p.n_keys - p.Tq;
  const bool rotary = p.bias == PositionBias::rotary;
  const Tensor rope = rotary ? rope_rows<T>(pos0, p.Tq, HS, p.rope_base) : Tensor();
  const T* cs = rotary ? rope.data<T>() : nullptr;
#pragma omp parallel for schedule(static) collapse(2) if (p.Tq > 1)  // one token: a few rows to copy
  for (int h = 0; h < p.NH; ++h)
    for (int t = 0; t < p.Tq; ++t) {
      const int64_t src = t * p.row_stride + h * p.head_stride;
      const int64_t dst = h * p.cache_head_stride + (slot0 + t) * HS;
      if (rotary) {
        rotate_row(p.k_cache + dst, p.k + src, cs + (int64_t)t * half, cs + ((int64_t)p.Tq + t) * half, HS);
      } else {
        std::memcpy(p.k_cache + dst, p.k + src, sizeof(T) * HS);
      }
      std::memcpy(p.v_cache + dst, p.v + src, sizeof(T) * HS);
    }
}

// Work items are (query row, head). Query r sees visible keys lo..hi, hi = its own key; the
// key c places after lo is at distance (hi - lo) - c from the query, which is the difference
// of the two tokens' positions (first_position cancels).
template <class T>
void attention_decode(const DecodeParams<T>& p) {
  check_decode_params(p, "attention_decode");
  const int Tq = p.Tq, NH = p.NH, HS = p.HS, half = HS / 2;
  const T scale = T(1) / std::sqrt(static_cast<T>(HS));
  const int64_t past = p.n_keys - Tq;  // visible keys before this step's
  const bool rotary = p.bias == PositionBias::rotary, t5 = p.bias == PositionBias::t5;
  const Tensor rope = rotary ? rope_rows<T>(p.first_position + past, Tq, HS, p.rope_base) : Tensor();
  const T* cs = rotary ? rope.data<T>() : nullptr;
  // t5: the bucket of every distance below max_distance; from there on every distance is
  // in the last bucket (t5_bucket's quotient reaches 1 at max_distance).
  const int64_t n_near = std::min<int64_t>(p.n_keys, p.t5_max_distance);
  Tensor near = t5 ? Tensor::empty({n_near}, DType::i32) : Tensor();
  if (t5)
    for (int64_t n = 0; n < n_near; ++n)
      near.data<int32_t>()[n] = t5_bucket(static_cast<int>(n), p.t5_buckets, p.t5_max_distance);

  // Short contexts are a few thousand multiply-adds per head: one thread, no team to wake.
  const bool parallel = (int64_t)Tq * NH * p.n_keys * HS >= kDecodeParallelMin;
#pragma omp parallel if (parallel)
  {
    Tensor scratch = Tensor::empty({p.n_keys + HS}, dtype_of<T>());
    T* s = scratch.data<T>();  // scores, then weights, of one query row
    T* qr = s + p.n_keys;      // rotary: the turned query
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < (int64_t)Tq * NH; ++item) {
      const int r = static_cast<int>(item / NH), h = static_cast<int>(item % NH);
      const int64_t hi = past + r;
      const int64_t lo = p.window > 0 ? std::max<int64_t>(0, hi - p.window + 1) : 0;
      const int64_t n = hi - lo + 1;
      const T* q = p.q + r * p.row_stride + h * p.head_stride;
      if (rotary) {
        rotate_row(qr, q, cs + (int64_t)r * half, cs + ((int64_t)Tq + r) * half, HS);
        q = qr;
      }
      const int64_t cache0 = h * p.cache_head_stride + (p.first_slot + lo) * HS;
      // s = scale * K q
      key_scores(s, p.k_cache + cache0, q, n, HS, scale);
      T mx = -std::numeric_limits<T>::infinity();
      if (t5) {
        const T* table = p.t5_table;
        const T far = table[(int64_t)(p.t5_buckets - 1) * NH + h];
        const int32_t* bucket = near.data<int32_t>();
        for (int64_t c = 0; c < n; ++c) {
          const int64_t dist = n - 1 - c;
          s[c] += dist < n_near ? table[(int64_t)bucket[dist] * NH + h] : far;
          mx = std::max(mx, s[c]);
        }
      } else {  // alibi; none and rotary as slope 0
        const T neg_slope = p.bias == PositionBias::alibi
                                ? -static_cast<T>(alibi_slope(p.head_offset + h, p.n_heads_total))
                                : T(0);
#pragma omp simd reduction(max : mx)
        for (int64_t c = 0; c < n; ++c) {
          const T x = s[c] + alibi_bias(neg_slope, static_cast<int>(n - 1 - c));  // formed here, never stored
          s[c] = x;
          mx = mx > x ? mx : x;
        }
      }
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < n; ++c) {
        s[c] = softmax_exp(s[c] - mx);
        sum += s[c];
      }
      // out = (V^T s) / sum
      weighted_values(p.out + ((int64_t)r * NH + h) * HS, p.v_cache + cache0, s, n, HS, T(1) / sum);
    }
  }
}

template void kv_cache_append<float>(const DecodeParams<float>&);
template void kv_cache_append<double>(const DecodeParams<double>&);
template void attention_decode<float>(const DecodeParams<float>&);
template void attention_decode<double>(const DecodeParams<double>&);

}  // namespace alibi::cpu

namespace alibi {

template <class T>
void check_decode_params(const DecodeParams<T>& p, const char* who) {
  ALIBI_CHECK_AS(ShapeError, p.Tq >= 1 && p.NH >= 1 && p.HS >= 1 && p.n_keys >= p.Tq && p.window >= 0,
                 who << ": need Tq, NH, HS >= 1, n_keys >= Tq and window >= 0 (got Tq=" << p.Tq << " NH=" << p.NH
                     << " HS=" << p.HS << " n_keys=" << p.n_keys << " window=" << p.window << ")");
  ALIBI_CHECK_AS(ShapeError,
                 p.first_slot >= 0 && p.first_slot + p.n_keys <= p.capacity &&
                     p.cache_head_stride >= p.capacity * p.HS,
                 who << ": keys in slots [" << p.first_slot << ", " << p.first_slot + p.n_keys
                     << ") do not fit a cache of (NH, capacity, HS) = (" << p.NH << ", " << p.capacity << ", " << p.HS
                     << ") with head stride " << p.cache_head_stride << " (at least capacity * HS = "
                     << p.capacity * p.HS << ")");
  ALIBI_CHECK_AS(ShapeError, p.head_stride >= p.HS && p.row_stride >= (int64_t)(p.NH - 1) * p.head_stride + p.HS,
                 who << ": strides (row " << p.row_stride << ", head " << p.head_stride << ") do not fit (Tq, NH, HS) = ("
                     << p.Tq << ", " << p.NH << ", " << p.HS << "); for a fused qkv use head 3*HS, row "
                     << 3 * p.NH * p.HS);
  ALIBI_CHECK_AS(
      ShapeError,
      p.bias != PositionBias::alibi || (p.head_offset >= 0 && p.n_heads_total >= p.head_offset + p.NH),
      who << ": local heads [" << p.head_offset << ", " << p.head_offset + p.NH
          << ") must lie inside the n_heads_total=" << p.n_heads_total
          << " global heads; set n_heads_total to the model's head count, not NH_local");
  ALIBI_CHECK(p.q && p.k && p.v && p.k_cache && p.v_cache && p.out,
              who << ": q, k, v, k_cache, v_cache and out must all be set");
  ALIBI_CHECK_AS(ShapeError, p.first_position >= 0 && p.first_position + p.n_keys <= std::numeric_limits<int>::max(),
                 who << ": positions up to " << p.first_position + p.n_keys << " are past the kernels' int range");
  check_position_bias_params(p.bias, p.HS, p.NH, p.rope_base, p.t5_table != nullptr, p.t5_buckets,
                             p.t5_max_distance, who);
}

template void check_decode_params<float>(const DecodeParams<float>&, const char*);
template void check_decode_params<double>(const DecodeParams<double>&, const char*);

}  // namespace alibi
