// Attention kernels on bf16 tensor cores: forward, dq and dk/dv (FlashAttention-2).
// Part of the attention kernels: included by kernels/cuda/attention.cu only (one
// translation unit; the anonymous namespace keeps every symbol private to it).
#pragma once

#include "kernels/cuda/attention_tiles.cuh"

namespace alibi::cuda {
namespace {

// ---- tensor-core forward -------------------------------------------------------------------
// Scores -> weights for one warp's tile, in place: x = scale q.k + bias(i - j), -inf where the
// key lies after the query (kMask, diagonal tiles only); the online softmax folds the tile's
// row max into m and rescales l and o. l stays a per-lane partial sum (the 4 lanes of a row
// share m, hence alpha); the epilogue adds the 4. dist0[mt][hf] = i - (j0 + 2c) of the
// lane's rows, so element (nt, e) is at distance dist0 - (8 nt + e).
template <bool kMask, int kMT, int kNT, int kDT, class Bias>
__device__ __forceinline__ void forward_weights(float (&s)[kMT][kNT][4], float (&m)[kMT][2], float (&l)[kMT][2],
                                                float (&o)[kMT][kDT][4], const float (&dist0)[kMT][2], float scale,
                                                const Bias& bias) {
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float n = dist0[mt][hf] - static_cast<float>(nt * 8 + e);
          float x = fmaf(s[mt][nt][2 * hf + e], scale, bias(n));
          if (kMask && n < 0.0f) x = -INFINITY;
          s[mt][nt][2 * hf + e] = x;
          mx = fmaxf(mx, x);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float alpha = online_softmax_rescale(m[mt][hf], mx);
      const float offset = softmax_offset(m[mt][hf]) * kLog2e;
      float sum = 0;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float p = fast_exp2(fmaf(s[mt][nt][2 * hf + e], kLog2e, -offset));
          s[mt][nt][2 * hf + e] = p;
          sum += p;
        }
      l[mt][hf] = l[mt][hf] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt) {
        o[mt][dt][2 * hf] *= alpha;
        o[mt][dt][2 * hf + 1] *= alpha;
      }
    }
}

// One block per (query tile of kBM rows, head, batch), walking its key tiles from the
// diagonal down to 0 (the masked ones first, FA2's order). Shared memory, bf16:
// Q (kBM x HS) + K and V (kBN x HS each), rows padded by kPad; HS = 64: 36 KB, HS = 128:
// 68 KB. K_{j-1} is fetched while P V_j runs and V_j while Q K_j^T runs.
template <int HS, int kWarps, int kMT, int kBN, class Bias>
__global__ void __launch_bounds__(kWarps * 32) forward_mma_kernel(const Args<bf16> a) {
  constexpr int kBM = kWarps * kMT * 16, kThreads = kWarps * 32, ld = HS + kPad;
  constexpr int kNT = kBN / 8, kDT = HS / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem);  // (kBM, HS)
  bf16* sK = sQ + kBM * ld;                  // (kBN, HS)
  bf16* sV = sK + kBN * ld;                  // (kBN, HS)

  const int T = a.T, h = blockIdx.y, b = blockIdx.z;
  const int i0 = (gridDim.x - 1 - blockIdx.x) * kBM;  // the longest tiles (most keys) start first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int row0 = warp * kMT * 16;  // the warp's first row in the tile
  const int64_t bh = (int64_t)b * a.NH + h;
  const bf16* q = a.q + bh * T * HS;
  const bf16* k = a.k + bh * T * HS;
  const bf16* v = a.v + bh * T * HS;
  const Bias bias = Bias::of_head(a, h);
  const int n_kb = (min(T, i0 + kBM) + kBN - 1) / kBN;  // key tiles with a key <= the last row

  load_tile_async<kBM, HS, kThreads>(sQ, q, i0, T);
  load_tile_async<kBN, HS, kThreads>(sK, k, (n_kb - 1) * kBN, T);
  cp_async_commit();

  float o[kMT][kDT][4] = {};
  float m[kMT][2], l[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      m[mt][hf] = -INFINITY;
      l[mt][hf] = 0;
    }

  for (int kb = n_kb - 1; kb >= 0; --kb) {
    const int j0 = kb * kBN;
    cp_async_wait<0>();
    __syncthreads();  // K_kb (and Q) landed; every warp is done with V_{kb+1}
    load_tile_async<kBN, HS, kThreads>(sV, v, j0, T);
    cp_async_commit();

    // In the diagonal tiles a warp's rows may precede every key: nothing to add.
    const bool active = j0 <= i0 + row0 + kMT * 16 - 1;
    float s[kMT][kNT][4] = {};
    if (active) {
      mma_abt<kMT, kBN, HS>(s, sQ, row0, sK, lane);
      float dist0[kMT][2];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf)
          dist0[mt][hf] = static_cast<float>(i0 + row0 + mt * 16 + g + 8 * hf) - static_cast<float>(j0 + 2 * c);
      if (j0 + kBN - 1 > i0 + row0)
        forward_weights<true>(s, m, l, o, dist0, a.scale, bias);
      else
        forward_weights<false>(s, m, l, o, dist0, a.scale, bias);
    }
    cp_async_wait<0>();
    __syncthreads();  // V_kb landed; every warp is done with K_kb
    if (kb > 0) {
      load_tile_async<kBN, HS, kThreads>(sK, k, j0 - kBN, T);
      cp_async_commit();
    }
    if (active) mma_pv<kMT, kBN, HS>(o, s, sV, lane);
  }

  const int64_t out_row = (int64_t)a.NH * HS;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      float sum = l[mt][hf];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int i = i0 + row0 + mt * 16 + g + 8 * hf;
      if (i >= T) continue;
      const float inv = 1.0f / sum;
      float* out = a.out + ((int64_t)b * T + i) * out_row + (int64_t)h * HS + 2 * c;
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt) {
        out[dt * 8] = o[mt][dt][2 * hf] * inv;
        out[dt * 8 + 1] = o[mt][dt][2 * hf + 1] * inv;
      }
      if (c == 0) a.lse[bh * T + i] = m[mt][hf] + logf(sum);
    }
}

// ---- tensor-core backward ------------------------------------------------------------------
// dq: one block per (query tile of kBM = 16 kWarps rows, head, batch), key tiles from the
// diagonal down, double-buffered:
//   S = Q K_j^T, dP = dO V_j^T, P = exp(scale S + bias - lse), dS = P (dP - D), dQ += dS K_j
// all in the warp's registers; dq = scale dQ. Shared memory, bf16: Q, dO (kBM x HS each) and
// two stages of K, V (kBN x HS each); HS = 128: 104 KB.
template <int HS, int kWarps, int kBN, class Bias>
__global__ void __launch_bounds__(kWarps * 32) dq_mma_kernel(const Args<bf16> a) {
  constexpr int kBM = kWarps * 16, kThreads = kWarps * 32, ld = HS + kPad;
  constexpr int kNT = kBN / 8, kDT = HS / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem);  // (kBM, HS)
  bf16* sdO = sQ + kBM * ld;                 // (kBM, HS)
  bf16* sKV = sdO + kBM * ld;                // stage s: K at sKV + 2 s kBN ld, V after it

  const int T = a.T, h = blockIdx.y, b = blockIdx.z;
  const int i0 = (gridDim.x - 1 - blockIdx.x) * kBM;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int row0 = warp * 16;
  const int64_t bh = (int64_t)b * a.NH + h;
  const bf16* k = a.k + bh * T * HS;
  const bf16* v = a.v + bh * T * HS;
  const Bias bias = Bias::of_head(a, h);
  const int n_kb = (min(T, i0 + kBM) + kBN - 1) / kBN;
  auto load_kv = [&](int stage, int j0) {
    load_tile_async<kBN, HS, kThreads>(sKV + 2 * stage * kBN * ld, k, j0, T);
    load_tile_async<kBN, HS, kThreads>(sKV + (2 * stage + 1) * kBN * ld, v, j0, T);
  };

  load_tile_async<kBM, HS, kThreads>(sQ, a.q + bh * T * HS, i0, T);
  load_tile_async<kBM, HS, kThreads>(sdO, a.dout + bh * T * HS, i0, T);
  load_kv(0, (n_kb - 1) * kBN);
  cp_async_commit();

  // The lane's rows i = i0 + row0 + g + 8 hf; padding rows get lse = inf, hence P = 0.
  float lse2[2], Di[2], fi[2];
#pragma unroll
  for (int hf = 0; hf < 2; ++hf) {
    const int i = i0 + row0 + g + 8 * hf;
    lse2[hf] = i < T ? a.lse[bh * T + i] * kLog2e : INFINITY;
    Di[hf] = i < T ? a.D[bh * T + i] : 0.0f;
    fi[hf] = static_cast<float>(i);
  }
  float acc[1][kDT][4] = {};

  for (int kb = n_kb - 1, stage = 0; kb >= 0; --kb, stage ^= 1) {
    if (kb > 0) {
      load_kv(stage ^ 1, (kb - 1) * kBN);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // this stage (and Q, dO) landed
    const bf16* sK = sKV + 2 * stage * kBN * ld;
    const bf16* sV = sK + kBN * ld;
    const int j0 = kb * kBN;
    if (j0 <= i0 + row0 + 15) {  // the warp has a row at or after the tile's first key
      float s[1][kNT][4] = {}, dp[1][kNT][4] = {};
      mma_abt<1, kBN, HS>(s, sQ, row0, sK, lane);
      mma_abt<1, kBN, HS>(dp, sdO, row0, sV, lane);
      const bool mask = j0 + kBN - 1 > i0 + row0;
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        const float dist0 = fi[hf] - static_cast<float>(j0 + 2 * c);
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float n = dist0 - static_cast<float>(nt * 8 + e);
            const float x = fmaf(s[0][nt][2 * hf + e], a.scale, bias(n));
            float p = fast_exp2(fmaf(x, kLog2e, -lse2[hf]));
            if (mask && n < 0.0f) p = 0.0f;
            s[0][nt][2 * hf + e] = p * (dp[0][nt][2 * hf + e] - Di[hf]);  // dS
          }
      }
      mma_pv<1, kBN, HS>(acc, s, sK, lane);
    }
    __syncthreads();  // every warp is done with this stage, which is refilled next iteration
  }

#pragma unroll
  for (int hf = 0; hf < 2; ++hf) {
    const int i = i0 + row0 + g + 8 * hf;
    if (i >= T) continue;
    float* dq = a.dq + b * a.batch_stride + i * a.row_stride + h * a.head_stride + 2 * c;
#pragma unroll
    for (int dt = 0; dt < kDT; ++dt) {
      dq[dt * 8] = a.scale * acc[0][dt][2 * hf];
      dq[dt * 8 + 1] = a.scale * acc[0][dt][2 * hf + 1];
    }
  }
}

// dk, dv: one block per (key tile of kBN = 16 kMT kWarps rows, head, batch), query tiles from
// the diagonal up to T, double-buffered. The warp computes the transposed products, keys as
// rows, so everything stays in its registers:
//   S^T = K Q_i^T, dP^T = V dO_i^T, P^T = exp(scale S^T + bias - lse), dS^T = P^T (dP^T - D),
//   dV += P^T dO_i, dK += dS^T Q_i;  dk = scale dK.
// A warp owns kMT m16 tiles of keys: each Q and dO fragment it reads from shared memory
// serves all kMT (as K and V fragments do in the forward).
// Shared memory: K, V (kBN x HS) once, two stages of Q, dO (kBM x HS) in bf16 and of lse
// (log2 units), D (kBM floats); then the T5 bucket sums. HS = 128: 70 KB.
// T5: dL/dtable[bucket] is the sum of dS over the (i, j) of the bucket. Tiles whose every
// distance is >= t5_max_distance all fall in the last bucket (t5_bucket's log-spaced
// range ends there) and are summed in registers; nearer tiles add each dS to a shared
// bucket sum. Blocks then atomicAdd their sums to t5_grad, so its low bits depend on the
// order blocks finish in: not bitwise reproducible, unlike the CPU's fixed order.
template <int HS, int kWarps, int kMT, int kBM, class Bias>
__global__ void __launch_bounds__(kWarps * 32) dkdv_mma_kernel(const Args<bf16> a) {
  constexpr int kBN = kWarps * kMT * 16, kThreads = kWarps * 32, ld = HS + kPad;
  constexpr int kNT = kBM / 8, kDT = HS / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sK = reinterpret_cast<bf16*>(smem);        // (kBN, HS)
  bf16* sV = sK + kBN * ld;                        // (kBN, HS)
  bf16* sQdO = sV + kBN * ld;                      // stage s: Q at sQdO + 2 s kBM ld, dO after it
  float* sLse = reinterpret_cast<float*>(sQdO + 4 * kBM * ld);  // stage s at sLse + s kBM
  float* sD = sLse + 2 * kBM;                                   // stage s at sD + s kBM
  float* bins = sD + 2 * kBM;                                   // (t5_buckets), T5 only

  const int T = a.T, h = blockIdx.y, b = blockIdx.z;
  const int j0 = blockIdx.x * kBN;  // tile 0, seen by every query, starts first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int row0 = warp * kMT * 16;  // the warp's first key row in the tile
  const int64_t bh = (int64_t)b * a.NH + h;
  const bf16* q = a.q + bh * T * HS;
  const bf16* dout = a.dout + bh * T * HS;
  const Bias bias = Bias::of_head(a, h);
  const int qt0 = j0 / kBM, n_qt = (T + kBM - 1) / kBM;
  auto load_queries = [&](int stage, int i0) {
    load_tile_async<kBM, HS, kThreads>(sQdO + 2 * stage * kBM * ld, q, i0, T);
    load_tile_async<kBM, HS, kThreads>(sQdO + (2 * stage + 1) * kBM * ld, dout, i0, T);
    for (int r = threadIdx.x; r < kBM; r += kThreads) {  // padding queries: P = 0
      const int i = i0 + r;
      sLse[stage * kBM + r] = i < T ? a.lse[bh * T + i] * kLog2e : INFINITY;
      sD[stage * kBM + r] = i < T ? a.D[bh * T + i] : 0.0f;
    }
  };

  load_tile_async<kBN, HS, kThreads>(sK, a.k + bh * T * HS, j0, T);
  load_tile_async<kBN, HS, kThreads>(sV, a.v + bh * T * HS, j0, T);
  load_queries(0, qt0 * kBM);
  cp_async_commit();
  if constexpr (Bias::kT5)
    for (int k = threadIdx.x; k < a.t5_buckets; k += kThreads) bins[k] = 0.0f;

  float fj[kMT][2];  // the lane's keys j = j0 + row0 + 16 mt + g + 8 hf
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) fj[mt][hf] = static_cast<float>(j0 + row0 + mt * 16 + g + 8 * hf);
  float dk[kMT][kDT][4] = {}, dv[kMT][kDT][4] = {};
  float far_sum = 0;  // T5: dS of tiles entirely in the last bucket

  for (int qt = qt0, stage = 0; qt < n_qt; ++qt, stage ^= 1) {
    if (qt + 1 < n_qt) {
      load_queries(stage ^ 1, (qt + 1) * kBM);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // this stage (and K, V, the zeroed bins) landed
    const bf16* sQ = sQdO + 2 * stage * kBM * ld;
    const bf16* sdO = sQ + kBM * ld;
    const float* lse2 = sLse + stage * kBM;
    const float* D = sD + stage * kBM;
    const int i0 = qt * kBM;
    if (i0 + kBM - 1 >= j0 + row0) {  // some query of the tile sees the warp's first key
      float s[kMT][kNT][4] = {}, dp[kMT][kNT][4] = {};
      mma_abt<kMT, kBM, HS>(s, sK, row0, sQ, lane);
      mma_abt<kMT, kBM, HS>(dp, sV, row0, sdO, lane);
      const bool mask = j0 + row0 + kMT * 16 - 1 > i0;
      const bool far = i0 - (j0 + kBN - 1) >= a.t5_max_distance;
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const float dist0 = static_cast<float>(i0 + 2 * c) - fj[mt][hf];
#pragma unroll
          for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int col = nt * 8 + 2 * c + e;
              const float n = dist0 + static_cast<float>(nt * 8 + e);  // i - j
              const float x = fmaf(s[mt][nt][2 * hf + e], a.scale, bias(n));
              float p = fast_exp2(fmaf(x, kLog2e, -lse2[col]));
              if (mask && n < 0.0f) p = 0.0f;
              const float ds = p * (dp[mt][nt][2 * hf + e] - D[col]);
              s[mt][nt][2 * hf + e] = p;
              dp[mt][nt][2 * hf + e] = ds;
              if constexpr (Bias::kT5) {
                if (far)
                  far_sum += ds;
                else if (n >= 0.0f && i0 + col < T)
                  atomicAdd(&bins[__ldg(a.t5_bucket + static_cast<int>(n))], ds);
              }
            }
        }
      mma_pv<kMT, kBM, HS>(dv, s, sdO, lane);
      mma_pv<kMT, kBM, HS>(dk, dp, sQ, lane);
    }
    __syncthreads();  // every warp is done with this stage, which is refilled next iteration
  }

#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      const int j = j0 + row0 + mt * 16 + g + 8 * hf;
      if (j >= T) continue;
      const int64_t at = b * a.batch_stride + j * a.row_stride + h * a.head_stride + 2 * c;
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          a.dk[at + dt * 8 + e] = a.scale * dk[mt][dt][2 * hf + e];
          a.dv[at + dt * 8 + e] = dv[mt][dt][2 * hf + e];
        }
    }
  if constexpr (Bias::kT5) {
    far_sum = warp_sum(far_sum);
    if (lane == 0 && far_sum != 0.0f) atomicAdd(&bins[a.t5_buckets - 1], far_sum);
    __syncthreads();
    for (int k = threadIdx.x; k < a.t5_buckets; k += kThreads)
      if (bins[k] != 0.0f) atomicAdd(a.t5_grad + (int64_t)k * a.NH + h, bins[k]);
  }
}

}  // namespace
}  // namespace alibi::cuda
