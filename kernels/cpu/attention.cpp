// Causal attention with in-kernel ALiBi on the CPU: FlashAttention-2's blockwise algorithm
// with an online softmax, every product through single-threaded BLAS inside our own
// OpenMP loops. The reference the CUDA kernel is tested against, and the CPU hot path.
//
// Memory: per thread a few score-sized tiles (kBlockQ x kBlockK) and head-sized tiles,
// taken from the CpuAllocator once per parallel region (so its peak statistic sees them),
// plus O(T) in the backward; never a T x T buffer.
#include "kernels/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/alibi.h"
#include "kernels/blas.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

namespace alibi::cpu {
namespace {

// ---- tuning ------------------------------------------------------------------------------
// 64 x 64 tiles (bench_attention, HS = 32 and 64, T = 128..2048; 32..128 and unequal
// shapes tried): as fast as 128 x 128 at T = 2048 and faster at T <= 512, where bigger tiles
// waste more of the half-masked diagonal tile; every product is then small enough
// (M N K <= 100^3) for OpenBLAS's unpacked small-matrix kernels.
constexpr int kBlockQ = 64;  // query rows per tile
constexpr int kBlockK = 64;  // key rows per tile

// ---- element math --------------------------------------------------------------------------
// exp(x) for the softmax weights, whose arguments are <= 0 up to rounding (x - running max,
// x - lse). float: Cody-Waite range reduction and Cephes' degree-6 polynomial (about 1 ulp),
// written so that GCC vectorises the loops that call it; glibc's expf is a scalar call per
// element, which cost as much as the tile GEMMs at HS = 64. double keeps std::exp: it only
// runs in gradient checks, where accuracy is what matters.
inline float softmax_exp(float x) {
  // Weights below e^-64 (~1.6e-28) are flushed to exactly 0: they vanish against the row
  // sum (>= 1) at float precision, and left in, they make subnormal products in the P V,
  // dS and dS K GEMMs (ALiBi drives far-away weights to e^-1000), which made the backward
  // 15x slower at T = 2048. The clamp keeps the exponent bits below in range.
  constexpr float kFlush = -64.0f;
  const bool flush = x < kFlush;
  x = std::clamp(x, kFlush, 88.0f);
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (no rounding instruction needed): after the
  // add, the low mantissa bits of t hold n.
  constexpr float kShift = 12582912.0f;
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kShift);
  // r = x - n ln 2 in two steps: 0.693359375 is exact in float, so n * it is exact too.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return flush ? 0.0f : p * std::bit_cast<float>((ni + 127) << 23);
}
inline double softmax_exp(double x) { return std::exp(x); }

// Scratch owned by one thread for one parallel region, from the project's allocator, cut
// into consecutive pieces that each start 64-byte aligned.
inline int64_t padded(int64_t n) { return (n + 15) / 16 * 16; }  // 16 floats = 64 bytes
template <class T>
struct Scratch {
  explicit Scratch(int64_t n) : storage(Tensor::empty({n}, dtype_of<T>())), next(storage.data<T>()) {}
  T* take(int64_t n) {
    T* piece = next;
    next += padded(n);
    return piece;
  }
  Tensor storage;
  T* next;
};

// dst (cols x rows, leading dimension ldd) = src (rows x cols, row stride lds) transposed.
// In the backward, dO V^T and Q K^T as "NT" products take OpenBLAS's packing path, which
// spent as long re-packing the strided K and V tiles for every query block as it did
// multiplying; with K_j^T and V_j^T transposed once per key block they are "NN" products
// that run unpacked. (In the forward each K tile is used once per work item, and the
// transpose saved nothing there.)
template <class T>
void transpose_tile(T* dst, int64_t ldd, const T* src, int64_t lds, int rows, int cols) {
  // Rows of src outer: its row stride (3 NH HS floats, a multiple of 2 KB at NH HS = 512)
  // maps a column walk onto two L1 sets, which made the other loop order cost more than
  // the GEMM it feeds. dst is one small contiguous tile, so scattered writes stay in L1.
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

// The host boundary: shapes and pointers, with messages that print what was expected.
template <class T>
void check_params(const AttentionParams<T>& p, const char* who) {
  ALIBI_CHECK_AS(ShapeError, p.B >= 1 && p.T >= 1 && p.NH >= 1 && p.HS >= 1,
                 who << ": need B, T, NH, HS >= 1 (got B=" << p.B << " T=" << p.T << " NH=" << p.NH
                     << " HS=" << p.HS << ")");
  // n_heads_total only feeds the slopes, so only ALiBi needs it set.
  ALIBI_CHECK_AS(
      ShapeError,
      p.bias != PositionBias::alibi || (p.head_offset >= 0 && p.n_heads_total >= p.head_offset + p.NH),
      who << ": local heads [" << p.head_offset << ", " << p.head_offset + p.NH
          << ") must lie inside the n_heads_total=" << p.n_heads_total
          << " global heads; set n_heads_total to the model's head count, not NH_local");
  ALIBI_CHECK_AS(ShapeError,
                 p.head_stride >= p.HS && p.row_stride >= (int64_t)(p.NH - 1) * p.head_stride + p.HS &&
                     (p.B == 1 || p.batch_stride >= (int64_t)p.T * p.row_stride),
                 who << ": strides (batch " << p.batch_stride << ", row " << p.row_stride << ", head "
                     << p.head_stride << ") do not fit (B, T, NH, HS) = (" << p.B << ", " << p.T << ", "
                     << p.NH << ", " << p.HS << "); for a fused qkv (B, T, NH, 3, HS) use head 3*HS, row "
                     << 3 * p.NH * p.HS << ", batch " << (int64_t)p.T * 3 * p.NH * p.HS);
  ALIBI_CHECK(p.q && p.k && p.v && p.out && p.lse, who << ": q, k, v, out and lse must all be set");
}

// The ALiBi slope of local head h, in T's precision; 0 turns the bias off.
template <class T>
T head_slope(const AttentionParams<T>& p, int h) {
  return p.bias == PositionBias::alibi ? static_cast<T>(alibi_slope(p.head_offset + h, p.n_heads_total))
                                       : T(0);
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------
// Work items are (b, h, query block), handed out dynamically so the threads finish
// together. Consecutive items share (b, h), so the K and V they stream stay in cache (one
// head's K and V are 1 MB at T = 2048, HS = 64); within a head the longest come first.
template <class T>
void attention_forward(const AttentionParams<T>& p) {
  check_params(p, "attention_forward");
  const int B = p.B, Tn = p.T, NH = p.NH, HS = p.HS;
  const T scale = T(1) / std::sqrt(static_cast<T>(HS));
  const int n_qblocks = (Tn + kBlockQ - 1) / kBlockQ;
  const int64_t n_bh = (int64_t)B * NH;
  const int64_t out_row = (int64_t)NH * HS;

#pragma omp parallel
  {
    Scratch<T> scratch(padded((int64_t)kBlockQ * kBlockK) + padded((int64_t)kBlockQ * HS) +
                       2 * padded(kBlockQ));
    T* S = scratch.take((int64_t)kBlockQ * kBlockK);  // scores, then weights, of one tile
    T* O = scratch.take((int64_t)kBlockQ * HS);       // unnormalised output rows
    T* m = scratch.take(kBlockQ);                     // running row max
    T* l = scratch.take(kBlockQ);                     // running row sum of exp(s - m)

#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < n_bh * n_qblocks; ++item) {
      const int64_t bh = item / n_qblocks;
      const int qb = n_qblocks - 1 - static_cast<int>(item % n_qblocks);
      const int b = static_cast<int>(bh / NH), h = static_cast<int>(bh % NH);
      const T neg_slope = -head_slope(p, h);
      const int64_t base = b * p.batch_stride + h * p.head_stride;
      const int i0 = qb * kBlockQ;
      const int bq = std::min(kBlockQ, Tn - i0);

      std::fill(O, O + (int64_t)bq * HS, T(0));
      std::fill(m, m + bq, -std::numeric_limits<T>::infinity());
      std::fill(l, l + bq, T(0));

      for (int j0 = 0; j0 <= i0 + bq - 1; j0 += kBlockK) {
        const int bk = std::min(kBlockK, Tn - j0);
        // S = scale * Q_i K_j^T, read straight from the strided qkv
        gemm(false, true, bq, bk, HS, scale, p.q + base + i0 * p.row_stride, p.row_stride,
             p.k + base + j0 * p.row_stride, p.row_stride, T(0), S, kBlockK);
        for (int r = 0; r < bq; ++r) {
          const int i = i0 + r;
          T* s = S + (int64_t)r * kBlockK;
          const int valid = std::clamp(i - j0 + 1, 0, bk);  // keys j0 .. i (causal)
          T mx = m[r];
#pragma omp simd reduction(max : mx)
          for (int c = 0; c < valid; ++c) {
            const T x = s[c] + neg_slope * static_cast<T>(i - j0 - c);  // -slope * (i - j), never stored
            s[c] = x;
            mx = mx > x ? mx : x;  // (std::max on s[c] here kept GCC 12 from vectorising)
          }
          T sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int c = 0; c < valid; ++c) {
            s[c] = softmax_exp(s[c] - mx);
            sum += s[c];
          }
          std::fill(s + valid, s + bk, T(0));  // masked keys weigh nothing in P V
          if (valid == 0) continue;
          if (mx != m[r]) {  // the max moved: rescale what was accumulated under the old one
            const T alpha = softmax_exp(m[r] - mx);  // m = -inf on the first tile gives 0
            l[r] *= alpha;
            T* o = O + (int64_t)r * HS;
#pragma omp simd
            for (int d = 0; d < HS; ++d) o[d] *= alpha;
            m[r] = mx;
          }
          l[r] += sum;
        }
        // O += P V_j
        gemm(false, false, bq, HS, bk, T(1), S, kBlockK, p.v + base + j0 * p.row_stride, p.row_stride, T(1),
             O, HS);
      }

      T* out = p.out + ((int64_t)b * Tn + i0) * out_row + (int64_t)h * HS;
      T* lse = p.lse + bh * Tn + i0;
      for (int r = 0; r < bq; ++r) {
        const T inv = T(1) / l[r];
#pragma omp simd
        for (int d = 0; d < HS; ++d) out[r * out_row + d] = O[(int64_t)r * HS + d] * inv;
        lse[r] = m[r] + std::log(l[r]);
      }
    }
  }
}

// ---- backward ------------------------------------------------------------------------------
// One (b, h) per work item, so dq accumulates without races. Key blocks outer (dK_j, dV_j
// accumulate in a contiguous tile and are written once), query blocks i >= j inner:
//   P = exp(S - lse_i);  dV_j += P^T dO_i;  dP = dO_i V_j^T;  dS = P * (dP - D_i);
//   dQ_i += scale dS K_j;  dK_j += scale dS^T Q_i;           D_i = dO_i . O_i
template <class T>
void attention_backward(const AttentionParams<T>& p, const T* dout, T* dq, T* dk, T* dv) {
  check_params(p, "attention_backward");
  ALIBI_CHECK(dout && dq && dk && dv, "attention_backward: dout, dq, dk and dv must all be set");
  const int B = p.B, Tn = p.T, NH = p.NH, HS = p.HS;
  const T scale = T(1) / std::sqrt(static_cast<T>(HS));
  const int64_t n_bh = (int64_t)B * NH;
  const int64_t out_row = (int64_t)NH * HS;
  const int64_t rs = p.row_stride;

#pragma omp parallel
  {
    Scratch<T> scratch(2 * padded((int64_t)kBlockQ * kBlockK) + 4 * padded((int64_t)kBlockK * HS) +
                       padded(Tn));
    T* P = scratch.take((int64_t)kBlockQ * kBlockK);   // weights of one tile, then dS
    T* dP = scratch.take((int64_t)kBlockQ * kBlockK);  // dO_i V_j^T
    T* dK = scratch.take((int64_t)kBlockK * HS);
    T* dV = scratch.take((int64_t)kBlockK * HS);
    T* Kt = scratch.take((int64_t)HS * kBlockK);  // K_j^T and V_j^T, reused by every
    T* Vt = scratch.take((int64_t)HS * kBlockK);  // query block
    T* D = scratch.take(Tn);                      // rowsum(dO * O) of this (b, h)

#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < n_bh; ++bh) {
      const int b = static_cast<int>(bh / NH), h = static_cast<int>(bh % NH);
      const T neg_slope = -head_slope(p, h);
      const int64_t base = b * p.batch_stride + h * p.head_stride;
      const T* q = p.q + base;
      const T* k = p.k + base;
      const T* v = p.v + base;
      const int64_t obase = (int64_t)b * Tn * out_row + (int64_t)h * HS;
      const T* o = p.out + obase;
      const T* dO = dout + obase;
      const T* lse = p.lse + bh * Tn;
      T* dQ = dq + base;

      for (int i = 0; i < Tn; ++i) {
        T d = 0;
#pragma omp simd reduction(+ : d)
        for (int c = 0; c < HS; ++c) d += dO[i * out_row + c] * o[i * out_row + c];
        D[i] = d;
      }

      for (int j0 = 0; j0 < Tn; j0 += kBlockK) {
        const int bk = std::min(kBlockK, Tn - j0);
        std::fill(dK, dK + (int64_t)bk * HS, T(0));
        std::fill(dV, dV + (int64_t)bk * HS, T(0));
        transpose_tile(Kt, kBlockK, k + j0 * rs, rs, bk, HS);
        transpose_tile(Vt, kBlockK, v + j0 * rs, rs, bk, HS);
        // Query blocks from the one holding query j0 (earlier queries cannot see key j0).
        for (int i0 = j0 / kBlockQ * kBlockQ; i0 < Tn; i0 += kBlockQ) {
          const int bq = std::min(kBlockQ, Tn - i0);
          gemm(false, false, bq, bk, HS, scale, q + i0 * rs, rs, Kt, kBlockK, T(0), P, kBlockK);
          for (int r = 0; r < bq; ++r) {
            const int i = i0 + r;
            T* s = P + (int64_t)r * kBlockK;
            const int valid = std::clamp(i - j0 + 1, 0, bk);
            const T li = lse[i];
#pragma omp simd
            for (int c = 0; c < valid; ++c)
              s[c] = softmax_exp(s[c] + neg_slope * static_cast<T>(i - j0 - c) - li);
            std::fill(s + valid, s + bk, T(0));
          }
          // dV_j += P^T dO_i
          gemm(true, false, bk, HS, bq, T(1), P, kBlockK, dO + i0 * out_row, out_row, T(1), dV, HS);
          // dP = dO_i V_j^T
          gemm(false, false, bq, bk, HS, T(1), dO + i0 * out_row, out_row, Vt, kBlockK, T(0), dP, kBlockK);
          // dS = P * (dP - D_i), in place of P (masked entries stay 0 because P is 0 there)
          for (int r = 0; r < bq; ++r) {
            T* s = P + (int64_t)r * kBlockK;
            const T* dp = dP + (int64_t)r * kBlockK;
            const T Di = D[i0 + r];
#pragma omp simd
            for (int c = 0; c < bk; ++c) s[c] *= dp[c] - Di;
          }
          // dQ_i += scale dS K_j; key block 0 is every query block's first visit, so it
          // overwrites (beta = 0): that is the `=` of the contract without a zeroing pass.
          gemm(false, false, bq, HS, bk, scale, P, kBlockK, k + j0 * rs, rs, j0 == 0 ? T(0) : T(1),
               dQ + i0 * rs, rs);
          // dK_j += scale dS^T Q_i
          gemm(true, false, bk, HS, bq, scale, P, kBlockK, q + i0 * rs, rs, T(1), dK, HS);
        }
        T* dk_out = dk + base + j0 * rs;
        T* dv_out = dv + base + j0 * rs;
        for (int r = 0; r < bk; ++r) {
          std::memcpy(dk_out + r * rs, dK + (int64_t)r * HS, sizeof(T) * HS);
          std::memcpy(dv_out + r * rs, dV + (int64_t)r * HS, sizeof(T) * HS);
        }
      }
    }
  }
}

template void attention_forward<float>(const AttentionParams<float>&);
template void attention_forward<double>(const AttentionParams<double>&);
template void attention_backward<float>(const AttentionParams<float>&, const float*, float*, float*, float*);
template void attention_backward<double>(const AttentionParams<double>&, const double*, double*, double*,
                                         double*);

}  // namespace alibi::cpu
