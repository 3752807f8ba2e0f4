// Causal attention with in-kernel position biases (ALiBi, rotary, T5) on the CPU:
// FlashAttention-2's blockwise algorithm with an online softmax, every product through
// single-threaded BLAS inside our own OpenMP loops. The reference the CUDA kernel is tested
// against, and the CPU hot path.
//
// Memory: per thread a few score-sized tiles (kBlockQ x kBlockK) and head-sized tiles,
// taken from the CpuAllocator once per parallel region (so its peak statistic sees them),
// plus O(T) in the backward; rotary adds rotated copies of one head's q, k (and dq in the
// backward), O(T HS) per thread, and a (T, HS/2) cos/sin table per call; T5 adds (NH, T)
// bias rows per call. Never a T x T buffer.
#include "kernels/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/alibi.h"
#include "kernels/blas.h"
#include "kernels/cpu/softmax_exp.h"
#include "kernels/positions.h"
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

// ---- position methods ----------------------------------------------------------------------
// Rotary's cos and sin of every (position, pair): cos at [t * HS/2 + d], sin after all the
// cosines. Angles in double, stored in T.
template <class T>
Tensor rope_table(int Tn, int HS, double base) {
  const int half = HS / 2;
  Tensor table = Tensor::empty({2, (int64_t)Tn, half}, dtype_of<T>());
  T* c = table.data<T>();
  T* s = c + (int64_t)Tn * half;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < Tn; ++t)
    for (int d = 0; d < half; ++d) {
      const double a = rope_angle(t, d, HS, base);
      c[(int64_t)t * half + d] = static_cast<T>(std::cos(a));
      s[(int64_t)t * half + d] = static_cast<T>(std::sin(a));
    }
  return table;
}

// Rows t0 .. t0 + rows - 1 of one head, src (row stride lds) -> dst (row stride ldd), each
// pair (d, d + HS/2) turned by its angle: sign = 1 rotates q and k, sign = -1 applies the
// transpose, which takes gradients of the rotated copies back to q and k.
template <class T>
void rotate_rows(T* dst, int64_t ldd, const T* src, int64_t lds, int t0, int rows, int HS, const T* rope,
                 int Tn, T sign) {
  const int half = HS / 2;
  for (int r = 0; r < rows; ++r) {
    const T* c = rope + (int64_t)(t0 + r) * half;
    const T* s = c + (int64_t)Tn * half;
    const T* x = src + r * lds;
    T* y = dst + r * ldd;
#pragma omp simd
    for (int d = 0; d < half; ++d) {
      T x0 = x[d], x1 = x[d + half];
      rope_rotate(x0, x1, c[d], sign * s[d]);
      y[d] = x0;
      y[d + half] = x1;
    }
  }
}

// T5's bias rows, (NH, T): [h * T + n] is the bias of head h at distance n = i - j, so a
// tile reads row h backwards from i - j0. `buckets` (T ints) gets each distance's bucket.
template <class T>
Tensor t5_bias_rows(const AttentionParams<T>& p, int32_t* buckets) {
  Tensor rows = Tensor::empty({(int64_t)p.NH, (int64_t)p.T}, dtype_of<T>());
  T* bias = rows.data<T>();
  for (int n = 0; n < p.T; ++n) buckets[n] = t5_bucket(n, p.t5_buckets, p.t5_max_distance);
  for (int h = 0; h < p.NH; ++h)
    for (int n = 0; n < p.T; ++n) bias[(int64_t)h * p.T + n] = p.t5_table[(int64_t)buckets[n] * p.NH + h];
  return rows;
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
  check_attention_params(p, "attention_forward");
  const int B = p.B, Tn = p.T, NH = p.NH, HS = p.HS;
  const T scale = T(1) / std::sqrt(static_cast<T>(HS));
  const int n_qblocks = (Tn + kBlockQ - 1) / kBlockQ;
  const int64_t n_bh = (int64_t)B * NH;
  const int64_t out_row = (int64_t)NH * HS;
  const int64_t rs = p.row_stride;
  const bool rotary = p.bias == PositionBias::rotary, t5 = p.bias == PositionBias::t5;
  const Tensor rope = rotary ? rope_table<T>(Tn, HS, p.rope_base) : Tensor();
  const T* cs = rotary ? rope.data<T>() : nullptr;  // cos, then sin, of (T, HS/2) angles
  Tensor buckets = t5 ? Tensor::empty({(int64_t)Tn}, DType::i32) : Tensor();
  const Tensor t5_rows = t5 ? t5_bias_rows(p, buckets.data<int32_t>()) : Tensor();

#pragma omp parallel
  {
    Scratch<T> scratch(padded((int64_t)kBlockQ * kBlockK) + padded((int64_t)kBlockQ * HS) +
                       2 * padded(kBlockQ) +
                       (rotary ? padded((int64_t)kBlockQ * HS) + padded((int64_t)Tn * HS) : 0));
    T* S = scratch.take((int64_t)kBlockQ * kBlockK);  // scores, then weights, of one tile
    T* O = scratch.take((int64_t)kBlockQ * HS);       // unnormalised output rows
    T* m = scratch.take(kBlockQ);                     // running row max
    T* l = scratch.take(kBlockQ);                     // running row sum of exp(s - m)
    // rotary: this item's rotated queries, and rotated keys [0, kr_rows) of head kr_bh,
    // kept across items: consecutive items share (b, h) and need ever fewer keys.
    T* Qr = rotary ? scratch.take((int64_t)kBlockQ * HS) : nullptr;
    T* Kr = rotary ? scratch.take((int64_t)Tn * HS) : nullptr;
    int64_t kr_bh = -1;
    int kr_rows = 0;

#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < n_bh * n_qblocks; ++item) {
      const int64_t bh = item / n_qblocks;
      const int qb = n_qblocks - 1 - static_cast<int>(item % n_qblocks);
      const int b = static_cast<int>(bh / NH), h = static_cast<int>(bh % NH);
      const T neg_slope = -head_slope(p, h);
      const int64_t base = b * p.batch_stride + h * p.head_stride;
      const int i0 = qb * kBlockQ;
      const int bq = std::min(kBlockQ, Tn - i0);

      const T* qi = p.q + base + i0 * rs;  // Q_i and K, straight from the strided qkv ...
      const T* k = p.k + base;
      int64_t ldq = rs, ldk = rs;
      if (rotary) {  // ... or their rotated copies
        if (kr_bh != bh) {
          kr_bh = bh;
          kr_rows = 0;
        }
        if (kr_rows < i0 + bq) {
          rotate_rows(Kr + (int64_t)kr_rows * HS, HS, k + kr_rows * rs, rs, kr_rows, i0 + bq - kr_rows, HS, cs, Tn,
                      T(1));
          kr_rows = i0 + bq;
        }
        rotate_rows(Qr, HS, qi, rs, i0, bq, HS, cs, Tn, T(1));
        qi = Qr;
        k = Kr;
        ldq = ldk = HS;
      }
      const T* t5_row = t5 ? t5_rows.data<T>() + (int64_t)h * Tn : nullptr;

      std::fill(O, O + (int64_t)bq * HS, T(0));
      std::fill(m, m + bq, -std::numeric_limits<T>::infinity());
      std::fill(l, l + bq, T(0));

      for (int j0 = 0; j0 <= i0 + bq - 1; j0 += kBlockK) {
        const int bk = std::min(kBlockK, Tn - j0);
        // S = scale * Q_i K_j^T
        gemm(false, true, bq, bk, HS, scale, qi, ldq, k + j0 * ldk, ldk, T(0), S, kBlockK);
        for (int r = 0; r < bq; ++r) {
          const int i = i0 + r;
          T* s = S + (int64_t)r * kBlockK;
          const int valid = std::clamp(i - j0 + 1, 0, bk);  // keys j0 .. i (causal)
          T mx = m[r];
          if (t5) {
            const T* rel = t5_row + (i - j0);  // rel[-c]: the bias at distance i - (j0 + c)
#pragma omp simd reduction(max : mx)
            for (int c = 0; c < valid; ++c) {
              const T x = s[c] + rel[-c];
              s[c] = x;
              mx = mx > x ? mx : x;
            }
          } else {  // alibi; none and rotary as slope 0
#pragma omp simd reduction(max : mx)
            for (int c = 0; c < valid; ++c) {
              const T x = s[c] + alibi_bias(neg_slope, i - j0 - c);  // formed here, never stored
              s[c] = x;
              mx = mx > x ? mx : x;  // (std::max on s[c] here kept GCC 12 from vectorising)
            }
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
// rotary runs this on the rotated Q, K and turns dQ, dK back (the rotation's transpose);
// T5's table gradient is the sum of dS over the (i, j) of each bucket: per (b, h) into
// distance sums, then bucket sums, then added over (b, h) in a fixed order after the loop.
template <class T>
void attention_backward(const AttentionParams<T>& p, const T* dout, T* dq, T* dk, T* dv) {
  check_attention_params(p, "attention_backward");
  ALIBI_CHECK(dout && dq && dk && dv, "attention_backward: dout, dq, dk and dv must all be set");
  const int B = p.B, Tn = p.T, NH = p.NH, HS = p.HS;
  const T scale = T(1) / std::sqrt(static_cast<T>(HS));
  const int64_t n_bh = (int64_t)B * NH;
  const int64_t out_row = (int64_t)NH * HS;
  const int64_t rs = p.row_stride;
  const bool rotary = p.bias == PositionBias::rotary, t5 = p.bias == PositionBias::t5;
  ALIBI_CHECK(!t5 || p.t5_table_grad, "attention_backward: bias t5 needs t5_table_grad, (t5_buckets, NH) = ("
                                          << p.t5_buckets << ", " << NH << "), to add the table's gradient into");
  const Tensor rope = rotary ? rope_table<T>(Tn, HS, p.rope_base) : Tensor();
  const T* cs = rotary ? rope.data<T>() : nullptr;  // cos, then sin, of (T, HS/2) angles
  Tensor buckets = t5 ? Tensor::empty({(int64_t)Tn}, DType::i32) : Tensor();
  const Tensor t5_rows = t5 ? t5_bias_rows(p, buckets.data<int32_t>()) : Tensor();
  const int nb = p.t5_buckets;
  Tensor t5_partial = t5 ? Tensor::empty({n_bh, (int64_t)nb}, DType::f64) : Tensor();  // (B*NH, buckets)

#pragma omp parallel
  {
    Scratch<T> scratch(2 * padded((int64_t)kBlockQ * kBlockK) + 4 * padded((int64_t)kBlockK * HS) +
                       padded(Tn) + (rotary ? 3 * padded((int64_t)Tn * HS) : 0));
    T* P = scratch.take((int64_t)kBlockQ * kBlockK);   // weights of one tile, then dS
    T* dP = scratch.take((int64_t)kBlockQ * kBlockK);  // dO_i V_j^T
    T* dK = scratch.take((int64_t)kBlockK * HS);
    T* dV = scratch.take((int64_t)kBlockK * HS);
    T* Kt = scratch.take((int64_t)HS * kBlockK);  // K_j^T and V_j^T, reused by every
    T* Vt = scratch.take((int64_t)HS * kBlockK);  // query block
    T* D = scratch.take(Tn);                      // rowsum(dO * O) of this (b, h)
    T* Qr = rotary ? scratch.take((int64_t)Tn * HS) : nullptr;   // rotated q, k of this (b, h),
    T* Kr = rotary ? scratch.take((int64_t)Tn * HS) : nullptr;   // and the gradient of the
    T* dQr = rotary ? scratch.take((int64_t)Tn * HS) : nullptr;  // rotated q
    // t5: sums of dS per distance i - j of this (b, h). In double: a sum runs over up to T
    // terms of either sign, and a float table gradient need not pay for that.
    Tensor dist_storage = t5 ? Tensor::empty({(int64_t)Tn}, DType::f64) : Tensor();
    double* dist = t5 ? dist_storage.data<double>() : nullptr;

#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < n_bh; ++bh) {
      const int b = static_cast<int>(bh / NH), h = static_cast<int>(bh % NH);
      const T neg_slope = -head_slope(p, h);
      const int64_t base = b * p.batch_stride + h * p.head_stride;
      const T* q = p.q + base;  // q, k and dQ from and into the strided qkv (row stride ld) ...
      const T* k = p.k + base;
      const T* v = p.v + base;
      const int64_t obase = (int64_t)b * Tn * out_row + (int64_t)h * HS;
      const T* o = p.out + obase;
      const T* dO = dout + obase;
      const T* lse = p.lse + bh * Tn;
      T* dQ = dq + base;
      int64_t ld = rs;
      if (rotary) {  // ... or the rotated copies (row stride HS)
        rotate_rows(Qr, HS, q, rs, 0, Tn, HS, cs, Tn, T(1));
        rotate_rows(Kr, HS, k, rs, 0, Tn, HS, cs, Tn, T(1));
        q = Qr;
        k = Kr;
        dQ = dQr;
        ld = HS;
      }
      const T* t5_row = t5 ? t5_rows.data<T>() + (int64_t)h * Tn : nullptr;
      if (t5) std::fill(dist, dist + Tn, 0.0);

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
        transpose_tile(Kt, kBlockK, k + j0 * ld, ld, bk, HS);
        transpose_tile(Vt, kBlockK, v + j0 * rs, rs, bk, HS);
        // Query blocks from the one holding query j0 (earlier queries cannot see key j0).
        for (int i0 = j0 / kBlockQ * kBlockQ; i0 < Tn; i0 += kBlockQ) {
          const int bq = std::min(kBlockQ, Tn - i0);
          gemm(false, false, bq, bk, HS, scale, q + i0 * ld, ld, Kt, kBlockK, T(0), P, kBlockK);
          for (int r = 0; r < bq; ++r) {
            const int i = i0 + r;
            T* s = P + (int64_t)r * kBlockK;
            const int valid = std::clamp(i - j0 + 1, 0, bk);
            const T li = lse[i];
            if (t5) {
              const T* rel = t5_row + (i - j0);
#pragma omp simd
              for (int c = 0; c < valid; ++c) s[c] = softmax_exp(s[c] + rel[-c] - li);
            } else {
#pragma omp simd
              for (int c = 0; c < valid; ++c) s[c] = softmax_exp(s[c] + alibi_bias(neg_slope, i - j0 - c) - li);
            }
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
          if (t5)  // the bias's gradient is dS itself
            for (int r = 0; r < bq; ++r) {
              const T* s = P + (int64_t)r * kBlockK;
              double* acc = dist + (i0 + r - j0);  // acc[-c]: distance i - (j0 + c)
              const int valid = std::clamp(i0 + r - j0 + 1, 0, bk);
#pragma omp simd
              for (int c = 0; c < valid; ++c) acc[-c] += s[c];
            }
          // dQ_i += scale dS K_j; key block 0 is every query block's first visit, so it
          // overwrites (beta = 0): that is the `=` of the contract without a zeroing pass.
          gemm(false, false, bq, HS, bk, scale, P, kBlockK, k + j0 * ld, ld, j0 == 0 ? T(0) : T(1),
               dQ + i0 * ld, ld);
          // dK_j += scale dS^T Q_i
          gemm(true, false, bk, HS, bq, scale, P, kBlockK, q + i0 * ld, ld, T(1), dK, HS);
        }
        T* dk_out = dk + base + j0 * rs;
        T* dv_out = dv + base + j0 * rs;
        if (rotary) rotate_rows(dk_out, rs, dK, HS, j0, bk, HS, cs, Tn, T(-1));
        for (int r = 0; r < bk; ++r) {
          if (!rotary) std::memcpy(dk_out + r * rs, dK + (int64_t)r * HS, sizeof(T) * HS);
          std::memcpy(dv_out + r * rs, dV + (int64_t)r * HS, sizeof(T) * HS);
        }
      }
      if (rotary) rotate_rows(dq + base, rs, dQr, HS, 0, Tn, HS, cs, Tn, T(-1));
      if (t5) {
        double* part = t5_partial.data<double>() + bh * nb;
        std::fill(part, part + nb, 0.0);
        const int32_t* bucket = buckets.data<int32_t>();
        for (int n = 0; n < Tn; ++n) part[bucket[n]] += dist[n];
      }
    }
  }

  // dtable[bucket, h] += sum over b of this (b, h)'s bucket sums, always in the same order.
  if (t5) {
    const double* part = t5_partial.data<double>();
    for (int bucket = 0; bucket < nb; ++bucket)
      for (int h = 0; h < NH; ++h) {
        double sum = 0;
        for (int b = 0; b < B; ++b) sum += part[((int64_t)b * NH + h) * nb + bucket];
        p.t5_table_grad[(int64_t)bucket * NH + h] += static_cast<T>(sum);
      }
  }
}

template void attention_forward<float>(const AttentionParams<float>&);
template void attention_forward<double>(const AttentionParams<double>&);
template void attention_backward<float>(const AttentionParams<float>&, const float*, float*, float*, float*);
template void attention_backward<double>(const AttentionParams<double>&, const double*, double*, double*,
                                         double*);

}  // namespace alibi::cpu

namespace alibi {

template <class T>
void check_attention_params(const AttentionParams<T>& p, const char* who) {
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
  check_position_bias_params(p.bias, p.HS, p.NH, p.rope_base, p.t5_table != nullptr, p.t5_buckets,
                             p.t5_max_distance, who);
}

void check_position_bias_params(PositionBias bias, int HS, int NH, double rope_base, bool has_t5_table,
                                int t5_buckets, int t5_max_distance, const char* who) {
  if (bias == PositionBias::rotary) {
    ALIBI_CHECK_AS(ShapeError, HS % 2 == 0,
                   who << ": rotary turns pairs (d, d + HS/2), so HS must be even (got HS=" << HS
                       << "); choose channels / heads even, or another position method");
    ALIBI_CHECK(rope_base > 0, who << ": rope_base must be > 0 (got " << rope_base << "; 10000 is usual)");
  }
  if (bias == PositionBias::t5) {
    ALIBI_CHECK(has_t5_table, who << ": bias t5 needs t5_table, the (t5_buckets, NH) = (" << t5_buckets << ", "
                                  << NH << ") bias of this rank's heads");
    ALIBI_CHECK(t5_buckets >= 2 && t5_max_distance > t5_buckets / 2,
                who << ": T5 buckets need t5_buckets >= 2 and t5_max_distance > t5_buckets / 2 (got " << t5_buckets
                    << ", " << t5_max_distance << "; T5 uses 32 and 128)");
  }
}

template void check_attention_params<float>(const AttentionParams<float>&, const char*);
template void check_attention_params<double>(const AttentionParams<double>&, const char*);

}  // namespace alibi
