// The KV-cache decode on the GPU: cpu::kv_cache_append and cpu::attention_decode's contract
// (kernels/attention_decode.h) on device pointers, fp32 throughout (a decode step reads the
// cache once; it is bound by memory, not by tensor cores).
//
// attention_decode is split-K ("flash-decoding"): a block of kDecodeWarps warps per (head,
// query, split of the visible keys); each warp walks its keys one at a time (the lanes split
// the head's channels, a warp sum gives the score), keeping an online softmax (running
// maximum, sum of weights, weighted values); the block merges its warps, and, when a row's
// keys were split over several blocks, decode_combine_kernel merges the splits. A split
// holds at least kKeysPerSplit keys, so a short context is one block per (head, query) and
// no second kernel, and a long one fills the GPU (8 heads at 32k keys: 512 blocks).
// The bias is formed per key from the two integer positions, in fp32 registers, as on the
// CPU: -slope(head_offset + h) * (i - p) for alibi (the global head's slope), t5's table by
// bucket, rotary by turning the query (the cached keys are stored turned).
#include "kernels/alibi.h"
#include "kernels/attention_decode.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/positions.h"
#include "runtime/tensor.h"

namespace alibi::cuda {
namespace {

constexpr int kDecodeWarps = 4;
constexpr int kMaxHeadSize = 256;                 // channels per lane: kMaxHeadSize / 32
constexpr int kPerLane = kMaxHeadSize / 32;
constexpr int64_t kKeysPerSplit = 256;
constexpr int kMaxSplits = 128;
constexpr int kAppendThreads = 64;

// Rotary: x[d], x[d + HS/2] of one head-sized row turned by position pos, angles in double
// (rope_angle), as cpu::rope_rows.
__device__ inline void rotate_pair(float& x0, float& x1, int pos, int pair, int HS, double base) {
  const double a = rope_angle(pos, pair, HS, base);
  rope_rotate(x0, x1, static_cast<float>(cos(a)), static_cast<float>(sin(a)));
}

// One block per (token t, local head h): the step's k (turned for rotary) and v rows into
// slot first_slot + n_keys - Tq + t.
__global__ void kv_cache_append_kernel(const DecodeParams<float> p) {
  const int t = blockIdx.x, h = blockIdx.y, HS = p.HS, half = HS / 2;
  const int64_t src = t * p.row_stride + h * p.head_stride;
  const int64_t dst = h * p.cache_head_stride + (p.first_slot + p.n_keys - p.Tq + t) * HS;
  const int pos = static_cast<int>(p.first_position + p.n_keys - p.Tq + t);
  const bool rotary = p.bias == PositionBias::rotary;
  for (int d = threadIdx.x; d < HS; d += blockDim.x) {
    p.v_cache[dst + d] = p.v[src + d];
    if (!rotary) {
      p.k_cache[dst + d] = p.k[src + d];
    } else if (d < half) {
      float x0 = p.k[src + d], x1 = p.k[src + d + half];
      rotate_pair(x0, x1, pos, d, HS, p.rope_base);
      p.k_cache[dst + d] = x0;
      p.k_cache[dst + d + half] = x1;
    }
  }
}

// The running state of an online softmax over some keys: maximum score m, sum of weights l
// (relative to m), and this lane's channels of the weighted values.
struct SoftmaxState {
  float m = -INFINITY, l = 0.f;
  float acc[kPerLane] = {};
};

// Block (h, r, split) of attention_decode: its keys' state, merged over the warps, written to
// out (one split) or to the split's row of the workspace (m, l, then HS values).
__global__ void __launch_bounds__(kDecodeWarps * 32)
    attention_decode_kernel(const DecodeParams<float> p, int splits, float* part) {
  __shared__ float q[kMaxHeadSize];
  __shared__ float warp_m[kDecodeWarps], warp_l[kDecodeWarps];
  __shared__ float warp_acc[kDecodeWarps][kMaxHeadSize];
  const int h = blockIdx.x, r = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, HS = p.HS, NH = p.NH;
  const int64_t past = p.n_keys - p.Tq;
  const int64_t hi = past + r;  // the query's own key
  const int64_t lo = p.window > 0 ? (hi - p.window + 1 > 0 ? hi - p.window + 1 : 0) : 0;
  const int64_t n = hi - lo + 1;
  const int64_t chunk = (n + splits - 1) / splits;
  const int64_t c0 = split * chunk, c1 = c0 + chunk < n ? c0 + chunk : n;

  // The query, turned by its position for rotary.
  const float* qg = p.q + r * p.row_stride + h * p.head_stride;
  const int qpos = static_cast<int>(p.first_position + hi);
  if (p.bias == PositionBias::rotary) {
    for (int d = threadIdx.x; d < HS / 2; d += blockDim.x) {
      float x0 = qg[d], x1 = qg[d + HS / 2];
      rotate_pair(x0, x1, qpos, d, HS, p.rope_base);
      q[d] = x0;
      q[d + HS / 2] = x1;
    }
  } else {
    for (int d = threadIdx.x; d < HS; d += blockDim.x) q[d] = qg[d];
  }
  __syncthreads();

  const float scale = 1.f / sqrtf(static_cast<float>(HS));
  const float neg_slope =
      p.bias == PositionBias::alibi ? -static_cast<float>(alibi_slope(p.head_offset + h, p.n_heads_total)) : 0.f;
  const float* k = p.k_cache + h * p.cache_head_stride + (p.first_slot + lo) * HS;
  const float* v = p.v_cache + h * p.cache_head_stride + (p.first_slot + lo) * HS;
  SoftmaxState st;
  for (int64_t c = c0 + warp; c < c1; c += kDecodeWarps) {
    float dot = 0.f;
    for (int i = 0, d = lane; i < kPerLane && d < HS; ++i, d += 32) dot += q[d] * k[c * HS + d];
    float s = scale * warp_sum(dot);
    const int dist = static_cast<int>(n - 1 - c);  // the query's position minus the key's
    if (p.bias == PositionBias::t5) {
      const int bucket = dist < p.t5_max_distance ? t5_bucket(dist, p.t5_buckets, p.t5_max_distance)
                                                  : p.t5_buckets - 1;
      s += p.t5_table[(int64_t)bucket * NH + h];
    } else {
      s += alibi_bias(neg_slope, dist);  // none and rotary: slope 0
    }
    const float m = fmaxf(st.m, s);
    const float keep = expf(st.m - m), w = expf(s - m);
    st.l = st.l * keep + w;
    for (int i = 0, d = lane; i < kPerLane && d < HS; ++i, d += 32) st.acc[i] = st.acc[i] * keep + w * v[c * HS + d];
    st.m = m;
  }

  // Merge the warps (a warp without keys has m = -inf and adds nothing).
  if (lane == 0) {
    warp_m[warp] = st.m;
    warp_l[warp] = st.l;
  }
  for (int i = 0, d = lane; i < kPerLane && d < HS; ++i, d += 32) warp_acc[warp][d] = st.acc[i];
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < kDecodeWarps; ++w) m = fmaxf(m, warp_m[w]);
  float l = 0.f;
  for (int w = 0; w < kDecodeWarps; ++w) l += warp_m[w] == -INFINITY ? 0.f : warp_l[w] * expf(warp_m[w] - m);
  const int64_t row = (int64_t)r * NH + h;
  float* dst = splits == 1 ? nullptr : part + (row * splits + split) * (HS + 2);
  for (int d = threadIdx.x; d < HS; d += blockDim.x) {
    float a = 0.f;
    for (int w = 0; w < kDecodeWarps; ++w) a += warp_m[w] == -INFINITY ? 0.f : warp_acc[w][d] * expf(warp_m[w] - m);
    if (dst == nullptr) {
      p.out[row * HS + d] = a / l;
    } else {
      dst[2 + d] = a;
    }
  }
  if (dst != nullptr && threadIdx.x == 0) {
    dst[0] = m;
    dst[1] = l;
  }
}

// One block per (head, query) row: out = the splits' states merged.
__global__ void decode_combine_kernel(const float* part, float* out, int splits, int NH, int HS) {
  const int64_t row = (int64_t)blockIdx.y * NH + blockIdx.x;
  const float* rp = part + row * splits * (HS + 2);
  float m = -INFINITY;
  for (int s = 0; s < splits; ++s) m = fmaxf(m, rp[s * (HS + 2)]);
  float l = 0.f;
  for (int s = 0; s < splits; ++s) {
    const float ms = rp[s * (HS + 2)];
    if (ms != -INFINITY) l += rp[s * (HS + 2) + 1] * expf(ms - m);
  }
  for (int d = threadIdx.x; d < HS; d += blockDim.x) {
    float a = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float ms = rp[s * (HS + 2)];
      if (ms != -INFINITY) a += rp[s * (HS + 2) + 2 + d] * expf(ms - m);
    }
    out[row * HS + d] = a / l;
  }
}

}  // namespace

void kv_cache_append(const DecodeParams<float>& p) {
  check_decode_params(p, "cuda::kv_cache_append");
  kv_cache_append_kernel<<<dim3(p.Tq, p.NH), kAppendThreads, 0, stream()>>>(p);
  ALIBI_CUDA_LAUNCHED();
}

void attention_decode(const DecodeParams<float>& p) {
  check_decode_params(p, "cuda::attention_decode");
  ALIBI_CHECK_AS(ShapeError, p.HS <= kMaxHeadSize,
                 "cuda::attention_decode: head size " << p.HS << " is over the kernel's " << kMaxHeadSize);
  const int64_t most_keys = p.window > 0 && p.window < p.n_keys ? p.window : p.n_keys;
  int64_t splits = (most_keys + kKeysPerSplit - 1) / kKeysPerSplit;
  splits = splits < 1 ? 1 : splits > kMaxSplits ? kMaxSplits : splits;
  Tensor part;
  if (splits > 1) part = Tensor::empty({(int64_t)p.Tq * p.NH * splits * (p.HS + 2)}, DType::f32, Device::cuda);
  float* part_data = splits > 1 ? part.data<float>() : nullptr;
  attention_decode_kernel<<<dim3(p.NH, p.Tq, static_cast<unsigned>(splits)), kDecodeWarps * 32, 0, stream()>>>(
      p, static_cast<int>(splits), part_data);
  ALIBI_CUDA_LAUNCHED();
  if (splits > 1) {
    decode_combine_kernel<<<dim3(p.NH, p.Tq), 32 * ((p.HS + 31) / 32), 0, stream()>>>(
        part_data, p.out, static_cast<int>(splits), p.NH, p.HS);
    ALIBI_CUDA_LAUNCHED();
  }
}

}  // namespace alibi::cuda
