// Attention kernels, exact fp32 path: simple SIMT forward, dq and dk/dv (the tests
// compare them with the CPU at fp32 tolerance; also any head size <= 128).
// Part of the attention kernels: included by kernels/cuda/attention.cu only (one
// translation unit; the anonymous namespace keeps every symbol private to it).
#pragma once

#include "kernels/cuda/attention_tiles.cuh"

namespace alibi::cuda {
namespace {

// ---- exact fp32 kernels ---------------------------------------------------------------------
// A block is 8 warps of 4 rows each (queries; keys in dk/dv), 32 rows, and the other side
// streams through shared memory 32 rows at a time. For the scores lane l takes row l of the
// streamed tile; for the accumulations the lanes split the head dimension (d = lane + 32 u,
// u < 4, hence HS <= 128) and take each weight from its lane by shuffle. A tile read one row
// per lane is stored with HS + 1 floats per row, so the 32 lanes hit 32 banks.
constexpr int kSimtRows = 4, kSimtTile = 32, kSimtThreads = 256;

// Rows r0 .. r0 + 31 of a (T, HS) fp32 head matrix into a (32, ld) shared tile, 0 past T.
__device__ void load_tile_fp32(float* tile, int ld, const float* head, int r0, int T, int HS) {
  for (int idx = threadIdx.x; idx < kSimtTile * HS; idx += kSimtThreads) {
    const int r = idx / HS, d = idx % HS;
    tile[r * ld + d] = r0 + r < T ? head[(int64_t)(r0 + r) * HS + d] : 0.0f;
  }
}

// acc[r][u] += sum over the tile's rows jj of w[r] (held by lane jj) x tile[jj][lane + 32 u]:
// the second product of each kernel (P V, dS K, P^T dO, dS^T Q), each lane owning the
// head dimensions lane + 32 u.
__device__ __forceinline__ void add_weighted_rows(float (&acc)[kSimtRows][4], const float (&w)[kSimtRows],
                                                  const float* tile, int ld, int HS, int lane) {
  for (int jj = 0; jj < kSimtTile; ++jj) {
    float row[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) row[u] = lane + 32 * u < HS ? tile[jj * ld + lane + 32 * u] : 0.0f;
#pragma unroll
    for (int r = 0; r < kSimtRows; ++r) {
      const float wj = __shfl_sync(0xffffffffu, w[r], jj);
#pragma unroll
      for (int u = 0; u < 4; ++u) acc[r][u] = fmaf(wj, row[u], acc[r][u]);
    }
  }
}

__device__ __forceinline__ float dot(const float* x, const float* y, int n) {
  float s = 0;
  for (int d = 0; d < n; ++d) s = fmaf(x[d], y[d], s);
  return s;
}

// Shared memory: Q (32 x HS), K (32 x HS+1), V (32 x HS).
template <class Bias>
__global__ void __launch_bounds__(kSimtThreads) forward_fp32_kernel(const Args<float> a) {
  extern __shared__ float fsmem[];
  const int HS = a.HS, T = a.T, ldk = HS + 1;
  float* sQ = fsmem;
  float* sK = sQ + kSimtTile * HS;
  float* sV = sK + kSimtTile * ldk;
  const int h = blockIdx.y, b = blockIdx.z;
  const int i0 = (gridDim.x - 1 - blockIdx.x) * kSimtTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = (int64_t)b * a.NH + h;
  const Bias bias = Bias::of_head(a, h);
  load_tile_fp32(sQ, HS, a.q + bh * T * HS, i0, T, HS);

  float o[kSimtRows][4] = {}, m[kSimtRows], l[kSimtRows];
  for (int r = 0; r < kSimtRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0;
  }
  const int n_kb = (min(T, i0 + kSimtTile) + kSimtTile - 1) / kSimtTile;
  for (int kb = 0; kb < n_kb; ++kb) {
    const int j = kb * kSimtTile + lane;
    __syncthreads();  // the previous K, V are used up
    load_tile_fp32(sK, ldk, a.k + bh * T * HS, kb * kSimtTile, T, HS);
    load_tile_fp32(sV, HS, a.v + bh * T * HS, kb * kSimtTile, T, HS);
    __syncthreads();
    float p[kSimtRows];
#pragma unroll
    for (int r = 0; r < kSimtRows; ++r) {
      const int row = warp * kSimtRows + r, i = i0 + row;
      const float s = dot(sQ + row * HS, sK + lane * ldk, HS);
      const float x = j <= i ? fmaf(s, a.scale, bias(i - j)) : -INFINITY;
      const float alpha = online_softmax_rescale(m[r], warp_max(x));
      p[r] = softmax_exp_(x - softmax_offset(m[r]));
      l[r] = l[r] * alpha + warp_sum(p[r]);
#pragma unroll
      for (int u = 0; u < 4; ++u) o[r][u] *= alpha;
    }
    add_weighted_rows(o, p, sV, HS, HS, lane);
  }
  for (int r = 0; r < kSimtRows; ++r) {
    const int i = i0 + warp * kSimtRows + r;
    if (i >= T) continue;
    float* out = a.out + (((int64_t)b * T + i) * a.NH + h) * HS;
    const float inv = 1.0f / l[r];
    for (int u = 0; u < 4; ++u)
      if (lane + 32 * u < HS) out[lane + 32 * u] = o[r][u] * inv;
    if (lane == 0) a.lse[bh * T + i] = m[r] + logf(l[r]);
  }
}

// dq per query tile. Shared memory: Q, dO (32 x HS), K, V (32 x HS+1).
template <class Bias>
__global__ void __launch_bounds__(kSimtThreads) dq_fp32_kernel(const Args<float> a) {
  extern __shared__ float fsmem[];
  const int HS = a.HS, T = a.T, ldk = HS + 1;
  float* sQ = fsmem;
  float* sdO = sQ + kSimtTile * HS;
  float* sK = sdO + kSimtTile * HS;
  float* sV = sK + kSimtTile * ldk;
  const int h = blockIdx.y, b = blockIdx.z;
  const int i0 = (gridDim.x - 1 - blockIdx.x) * kSimtTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = (int64_t)b * a.NH + h;
  const Bias bias = Bias::of_head(a, h);
  load_tile_fp32(sQ, HS, a.q + bh * T * HS, i0, T, HS);
  load_tile_fp32(sdO, HS, a.dout + bh * T * HS, i0, T, HS);

  float lse[kSimtRows], Di[kSimtRows], acc[kSimtRows][4] = {};
  for (int r = 0; r < kSimtRows; ++r) {
    const int i = i0 + warp * kSimtRows + r;
    lse[r] = i < T ? a.lse[bh * T + i] : 0.0f;
    Di[r] = i < T ? a.D[bh * T + i] : 0.0f;
  }
  const int n_kb = (min(T, i0 + kSimtTile) + kSimtTile - 1) / kSimtTile;
  for (int kb = 0; kb < n_kb; ++kb) {
    const int j = kb * kSimtTile + lane;
    __syncthreads();
    load_tile_fp32(sK, ldk, a.k + bh * T * HS, kb * kSimtTile, T, HS);
    load_tile_fp32(sV, ldk, a.v + bh * T * HS, kb * kSimtTile, T, HS);
    __syncthreads();
    float ds[kSimtRows];
#pragma unroll
    for (int r = 0; r < kSimtRows; ++r) {
      const int row = warp * kSimtRows + r, i = i0 + row;
      const float s = dot(sQ + row * HS, sK + lane * ldk, HS);
      const float dp = dot(sdO + row * HS, sV + lane * ldk, HS);
      const float p = j <= i && i < T ? softmax_exp_(fmaf(s, a.scale, bias(i - j)) - lse[r]) : 0.0f;
      ds[r] = p * (dp - Di[r]);
    }
    add_weighted_rows(acc, ds, sK, ldk, HS, lane);
  }
  for (int r = 0; r < kSimtRows; ++r) {
    const int i = i0 + warp * kSimtRows + r;
    if (i >= T) continue;
    float* dq = a.dq + b * a.batch_stride + i * a.row_stride + h * a.head_stride;
    for (int u = 0; u < 4; ++u)
      if (lane + 32 * u < HS) dq[lane + 32 * u] = a.scale * acc[r][u];
  }
}

// dk, dv per key tile. Shared memory: K, V (32 x HS), Q, dO (32 x HS+1), lse, D (32), then
// the T5 bucket sums (added per score with shared atomics: this path is for tests).
template <class Bias>
__global__ void __launch_bounds__(kSimtThreads) dkdv_fp32_kernel(const Args<float> a) {
  extern __shared__ float fsmem[];
  const int HS = a.HS, T = a.T, ldq = HS + 1;
  float* sK = fsmem;
  float* sV = sK + kSimtTile * HS;
  float* sQ = sV + kSimtTile * HS;
  float* sdO = sQ + kSimtTile * ldq;
  float* sLse = sdO + kSimtTile * ldq;
  float* sD = sLse + kSimtTile;
  float* bins = sD + kSimtTile;
  const int h = blockIdx.y, b = blockIdx.z;
  const int j0 = blockIdx.x * kSimtTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = (int64_t)b * a.NH + h;
  const Bias bias = Bias::of_head(a, h);
  load_tile_fp32(sK, HS, a.k + bh * T * HS, j0, T, HS);
  load_tile_fp32(sV, HS, a.v + bh * T * HS, j0, T, HS);
  if constexpr (Bias::kT5)
    for (int k = threadIdx.x; k < a.t5_buckets; k += kSimtThreads) bins[k] = 0.0f;

  float dk[kSimtRows][4] = {}, dv[kSimtRows][4] = {};
  for (int i0 = j0; i0 < T; i0 += kSimtTile) {
    const int i = i0 + lane;
    __syncthreads();
    load_tile_fp32(sQ, ldq, a.q + bh * T * HS, i0, T, HS);
    load_tile_fp32(sdO, ldq, a.dout + bh * T * HS, i0, T, HS);
    if (threadIdx.x < kSimtTile) {
      sLse[threadIdx.x] = i < T ? a.lse[bh * T + i] : 0.0f;
      sD[threadIdx.x] = i < T ? a.D[bh * T + i] : 0.0f;
    }
    __syncthreads();
    float p[kSimtRows], ds[kSimtRows];
#pragma unroll
    for (int r = 0; r < kSimtRows; ++r) {
      const int row = warp * kSimtRows + r, j = j0 + row;
      const float s = dot(sQ + lane * ldq, sK + row * HS, HS);
      const float dp = dot(sdO + lane * ldq, sV + row * HS, HS);
      const bool valid = j <= i && i < T;
      p[r] = valid ? softmax_exp_(fmaf(s, a.scale, bias(i - j)) - sLse[lane]) : 0.0f;
      ds[r] = p[r] * (dp - sD[lane]);
      if constexpr (Bias::kT5)
        if (valid) atomicAdd(&bins[a.t5_bucket[i - j]], ds[r]);
    }
    add_weighted_rows(dv, p, sdO, ldq, HS, lane);
    add_weighted_rows(dk, ds, sQ, ldq, HS, lane);
  }
  for (int r = 0; r < kSimtRows; ++r) {
    const int j = j0 + warp * kSimtRows + r;
    if (j >= T) continue;
    const int64_t at = b * a.batch_stride + j * a.row_stride + h * a.head_stride;
    for (int u = 0; u < 4; ++u)
      if (lane + 32 * u < HS) {
        a.dk[at + lane + 32 * u] = a.scale * dk[r][u];
        a.dv[at + lane + 32 * u] = dv[r][u];
      }
  }
  if constexpr (Bias::kT5) {
    __syncthreads();
    for (int k = threadIdx.x; k < a.t5_buckets; k += kSimtThreads)
      if (bins[k] != 0.0f) atomicAdd(a.t5_grad + (int64_t)k * a.NH + h, bins[k]);
  }
}

}  // namespace
}  // namespace alibi::cuda
