// Attention kernels, shared pieces: kernel arguments, position biases per score, per-call
// tables and operand preparation, bf16 tensor-core primitives (mma.sync, ldmatrix,
// cp.async) and tile sizes.
// Part of the attention kernels: included by kernels/cuda/attention.cu only (one
// translation unit; the anonymous namespace keeps every symbol private to it).
#pragma once

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

#include "kernels/alibi.h"
#include "kernels/attention.h"
#include "kernels/cuda/common.cuh"
#include "kernels/positions.h"
#include "kernels/softmax.h"
#include "runtime/tensor.h"

namespace alibi::cuda {
namespace {


using bf16 = __nv_bfloat16;
constexpr float kLog2e = 1.4426950408889634f;

// ---- what the kernels read ------------------------------------------------------------------
// E is the operand type of the prepared copies: bf16 (tensor cores) or float (exact path).
template <class E>
struct Args {
  const E* q = nullptr;       // (B, NH, T, HS), rotated for rotary
  const E* k = nullptr;       // (B, NH, T, HS), rotated for rotary
  const E* v = nullptr;       // (B, NH, T, HS)
  const E* dout = nullptr;    // (B, NH, T, HS), backward
  const float* D = nullptr;   // (B, NH, T), backward: rowsum(dout * out)
  float* out = nullptr;       // (B, T, NH, HS), forward
  float* lse = nullptr;       // (B, NH, T): written by the forward, read by the backward
  float* dq = nullptr;        // backward outputs, with the strides below (those of q, k, v)
  float* dk = nullptr;
  float* dv = nullptr;
  int64_t batch_stride = 0, row_stride = 0, head_stride = 0;
  int B = 0, T = 0, NH = 0, HS = 0;
  float scale = 0;            // 1 / sqrt(HS), rounded as the CPU rounds it
  bool alibi = false;         // slope of global head head_offset + h of n_heads_total
  int head_offset = 0, n_heads_total = 0;
  const float* t5_bias = nullptr;      // (NH, T): bias of local head h at distance i - j
  const int32_t* t5_bucket = nullptr;  // (T): bucket of distance i - j
  float* t5_grad = nullptr;            // (t5_buckets, NH), +=
  int t5_buckets = 0, t5_max_distance = 0;
};

// ---- the position bias of one head, per score ------------------------------------------------
// Called with the distance n = i - j. Masked and padding scores may pass any n (negative, or
// >= T); their bias is thrown away and only has to be finite and read in bounds.
struct AlibiBias {  // none and rotary as slope 0
  static constexpr bool kT5 = false;
  float neg_slope;
  template <class E>
  __device__ static AlibiBias of_head(const Args<E>& a, int h) {
    return {a.alibi ? -static_cast<float>(alibi_slope(a.head_offset + h, a.n_heads_total)) : 0.0f};
  }
  __device__ float operator()(int n) const { return alibi_bias(neg_slope, n); }
  // The tensor-core kernels carry distances as floats (exact integers below 2^24), which
  // saves an int-to-float conversion per score (a quarter-rate instruction): bit for bit
  // alibi_bias(neg_slope, n).
  __device__ float operator()(float n) const { return neg_slope * n; }
};

struct T5Bias {
  static constexpr bool kT5 = true;
  const float* row;  // this head's bias by distance, (T)
  int last;          // T - 1
  template <class E>
  __device__ static T5Bias of_head(const Args<E>& a, int h) {
    return {a.t5_bias + (int64_t)h * a.T, a.T - 1};
  }
  __device__ float operator()(int n) const { return __ldg(row + min(max(n, 0), last)); }
  __device__ float operator()(float n) const { return (*this)(static_cast<int>(n)); }
};

// ---- per-call tables and operand preparation -------------------------------------------------
// Rotary's cos and sin of every (position, pair): cos at [t * HS/2 + d], then all the sines;
// angles in double, stored in float, as the CPU's rope_table.
__global__ void rope_table_kernel(float* table, int T, int HS, double base) {
  const int half = HS / 2;
  const int64_t n = (int64_t)T * half;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n; idx += (int64_t)gridDim.x * blockDim.x) {
    const double a = rope_angle(static_cast<int>(idx / half), static_cast<int>(idx % half), HS, base);
    table[idx] = static_cast<float>(cos(a));
    table[n + idx] = static_cast<float>(sin(a));
  }
}

// T5: the bucket of each distance n < T and each head's bias by distance, (NH, T), so that a
// kernel reads one float per score instead of evaluating a logarithm.
__global__ void t5_tables_kernel(float* bias, int32_t* bucket, const float* table, int T, int NH, int num_buckets,
                                 int max_distance) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < (int64_t)NH * T;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int h = static_cast<int>(idx / T), n = static_cast<int>(idx % T);
    const int bk = t5_bucket(n, num_buckets, max_distance);
    bias[idx] = table[(int64_t)bk * NH + h];
    if (h == 0) bucket[n] = bk;
  }
}

template <class E>
__device__ __forceinline__ E to_operand(float x);
template <>
__device__ __forceinline__ float to_operand<float>(float x) { return x; }
template <>
__device__ __forceinline__ bf16 to_operand<bf16>(float x) { return __float2bfloat16_rn(x); }
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __bfloat162float(x); }

// The rows (b, t, h) of a (B, T, NH, HS) activation, one warp per row, its lanes over d: the
// index arithmetic (64-bit divisions) once per row instead of once per element.
struct RowOf {
  int b, t, h;
  __device__ RowOf(int64_t row, int T, int NH)
      : b(static_cast<int>(row / NH / T)), t(static_cast<int>(row / NH % T)), h(static_cast<int>(row % NH)) {}
};
__device__ __forceinline__ int64_t first_warp() { return (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32; }
__device__ __forceinline__ int64_t warp_count() { return (int64_t)gridDim.x * blockDim.x / 32; }

// q, k, v of every (b, t, h) -> (B, NH, T, HS) arrays of E. With rope set, q and k are turned
// pair by pair, (d, d + HS/2) by the angle of (t, d), as the CPU's rotate_rows; v is not.
template <class E>
__global__ void prepare_qkv_kernel(E* qh, E* kh, E* vh, const float* q, const float* k, const float* v,
                                   int64_t batch_stride, int64_t row_stride, int64_t head_stride, int B, int T, int NH,
                                   int HS, const float* rope) {
  const int lane = threadIdx.x % 32, half = HS / 2;
  for (int64_t row = first_warp(); row < (int64_t)B * T * NH; row += warp_count()) {
    const RowOf r(row, T, NH);
    const int64_t src = r.b * batch_stride + r.t * row_stride + r.h * head_stride;
    const int64_t dst = (((int64_t)r.b * NH + r.h) * T + r.t) * HS;
    for (int d = lane; d < HS; d += 32) {
      float qv = q[src + d], kv = k[src + d];
      if (rope) {
        const int pair = d < half ? d : d - half;
        const float c = rope[(int64_t)r.t * half + pair], s = rope[((int64_t)T + r.t) * half + pair];
        float q0 = q[src + pair], q1 = q[src + pair + half];
        float k0 = k[src + pair], k1 = k[src + pair + half];
        rope_rotate(q0, q1, c, s);
        rope_rotate(k0, k1, c, s);
        qv = d < half ? q0 : q1;
        kv = d < half ? k0 : k1;
      }
      qh[dst + d] = to_operand<E>(qv);
      kh[dst + d] = to_operand<E>(kv);
      vh[dst + d] = to_operand<E>(v[src + d]);
    }
  }
}

// dout -> (B, NH, T, HS) of E, and D = rowsum(dout * out) in fp32, from dout as rounded to E:
// dS = P (dP - D) then cancels where it should (dP is formed from the rounded dout), which
// halves the bf16 path's error in dq, dk and the T5 gradient.
template <class E>
__global__ void prepare_dout_kernel(E* doh, float* D, const float* dout, const float* out, int B, int T, int NH,
                                    int HS) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = first_warp(); row < (int64_t)B * T * NH; row += warp_count()) {
    const RowOf r(row, T, NH);
    const float* g = dout + row * HS;  // (B, T, NH, HS): row = (b T + t) NH + h
    const float* o = out + row * HS;
    const int64_t bht = ((int64_t)r.b * NH + r.h) * T + r.t;
    float sum = 0;
    for (int d = lane; d < HS; d += 32) {
      const E rounded = to_operand<E>(g[d]);
      sum += to_float(rounded) * o[d];
      doh[bht * HS + d] = rounded;
    }
    sum = warp_sum(sum);
    if (lane == 0) D[bht] = sum;
  }
}

// Gradients of the rotated q (or k) -> gradients of q (or k), in place: the transposed
// rotation, which is rope_rotate with the sine negated.
__global__ void unrotate_kernel(float* g, int64_t batch_stride, int64_t row_stride, int64_t head_stride, int B, int T,
                                int NH, int HS, const float* rope) {
  const int lane = threadIdx.x % 32, half = HS / 2;
  for (int64_t row = first_warp(); row < (int64_t)B * T * NH; row += warp_count()) {
    const RowOf r(row, T, NH);
    float* x = g + r.b * batch_stride + r.t * row_stride + r.h * head_stride;
    for (int pair = lane; pair < half; pair += 32) {
      float x0 = x[pair], x1 = x[pair + half];
      rope_rotate(x0, x1, rope[(int64_t)r.t * half + pair], -rope[((int64_t)T + r.t) * half + pair]);
      x[pair] = x0;
      x[pair + half] = x1;
    }
  }
}

// ---- bf16 tensor-core primitives (PTX ISA: mma.sync m16n8k16, ldmatrix, cp.async) ------------
// Fragments of mma.m16n8k16 for lane = 4 g + c (g = lane / 4, c = lane % 4):
//   A (16 x 16, row-major)  4 regs of 2 bf16: rows g, g+8 x cols 2c, 2c+1 (regs 0, 1) and
//                           cols 8+2c, 9+2c (regs 2, 3)
//   B (16 x 8, k x n)       2 regs: k = 2c, 2c+1 (reg 0) and 8+2c, 9+2c (reg 1); n = g
//   C (16 x 8, fp32)        [0], [1]: row g, cols 2c, 2c+1;  [2], [3]: row g+8, same cols
// The C fragments of two adjacent n8 tiles are, element for element, the A fragment of one
// k16 step, so a warp's weights feed P V without leaving its registers (acc_to_a).
//
// Shared tiles are row-major, HS + kPad bf16 per row. The 8 row addresses of one ldmatrix
// 8x8 matrix are then 16 bytes apart modulo 128 and hit distinct banks; unpadded, rows of
// 128 or 256 bytes would put all 8 on the same banks (8-way conflicts).
constexpr int kPad = 8;

__device__ __forceinline__ uint32_t smem_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}

// d += a b on the tensor cores, fp32 accumulation.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) in the low half
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ __forceinline__ void acc_to_a(uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
  a[0] = pack_bf16(c0[0], c0[1]);
  a[1] = pack_bf16(c0[2], c0[3]);
  a[2] = pack_bf16(c1[0], c1[1]);
  a[3] = pack_bf16(c1[2], c1[3]);
}

// 16 bytes global -> shared, asynchronously; with inside = false nothing is read and the
// 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async_16(bf16* dst, const bf16* src, bool inside) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(dst)), "l"(src),
               "r"(inside ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>  // wait until at most kPending committed groups are in flight
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// 2^x on the special-function unit (about 2 ulp; flushes results below 2^-126 to 0, which
// vanish against the row sum anyway). expf is an accurate multi-instruction sequence.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Rows r0 .. r0 + kRows - 1 of one head's (T, HS) bf16 matrix into a shared tile. Rows past
// T are zero-filled, so padded keys and values are finite and weigh exactly 0.
template <int kRows, int HS, int kThreads>
__device__ __forceinline__ void load_tile_async(bf16* tile, const bf16* head, int r0, int T) {
  constexpr int kChunks = HS / 8;  // 16-byte pieces per row
  for (int idx = threadIdx.x; idx < kRows * kChunks; idx += kThreads) {
    const int r = idx / kChunks, col = idx % kChunks * 8;
    const bool inside = r0 + r < T;
    cp_async_16(tile + r * (HS + kPad) + col, head + (int64_t)(inside ? r0 + r : 0) * HS + col, inside);
  }
}

// acc[mt][nt] += A B^T for one warp, over K = HS: A = rows a_row0 + 16 mt .. of shared tile a
// (MT m16 tiles), B = the first N rows of shared tile b. S = Q K^T and dP = dO V^T, and in
// the dk/dv kernel the transposed S^T = K Q^T and dP^T = V dO^T.
template <int MT, int N, int K>
__device__ __forceinline__ void mma_abt(float (&acc)[MT][N / 8][4], const bf16* a, int a_row0, const bf16* b,
                                        int lane) {
  constexpr int ld = K + kPad;
#pragma unroll
  for (int k0 = 0; k0 < K; k0 += 16) {
    uint32_t af[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)  // matrices: rows 0-7 | 8-15 x cols 0-7, then cols 8-15
      ldmatrix_x4(af[mt], a + (a_row0 + mt * 16 + (lane & 15)) * ld + k0 + (lane >> 4) * 8);
#pragma unroll
    for (int n0 = 0; n0 < N; n0 += 16) {
      uint32_t bf[4];  // matrices: rows n0..+7 x k 0-7 | k 8-15, then rows n0+8..+15
      ldmatrix_x4(bf, b + (n0 + (lane & 7) + (lane >> 4) * 8) * ld + k0 + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma_16816(acc[mt][n0 / 8], af[mt], bf[0], bf[1]);
        mma_16816(acc[mt][n0 / 8 + 1], af[mt], bf[2], bf[3]);
      }
    }
  }
}

// acc[mt][dt] += P V for one warp: P in registers (C fragments of an mma_abt, MT x N),
// rounded to bf16 here; V = the first N rows of shared tile v, (N, HS). O += P V and
// dQ += dS K, and in the dk/dv kernel dV += P^T dO and dK += dS^T Q.
template <int MT, int N, int HS>
__device__ __forceinline__ void mma_pv(float (&acc)[MT][HS / 8][4], const float (&p)[MT][N / 8][4], const bf16* v,
                                       int lane) {
  constexpr int ld = HS + kPad;
#pragma unroll
  for (int k0 = 0; k0 < N; k0 += 16) {
    uint32_t af[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) acc_to_a(af[mt], p[mt][k0 / 8], p[mt][k0 / 8 + 1]);
#pragma unroll
    for (int d0 = 0; d0 < HS; d0 += 16) {
      uint32_t bf[4];  // transposed matrices: rows k0..+7 | +8..+15 x cols d0..+7, then d0+8..+15
      ldmatrix_x4_trans(bf, v + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * ld + d0 + (lane >> 4) * 8);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma_16816(acc[mt][d0 / 8], af[mt], bf[0], bf[1]);
        mma_16816(acc[mt][d0 / 8 + 1], af[mt], bf[2], bf[3]);
      }
    }
  }
}

// ---- tensor-core kernels: tile sizes ---------------------------------------------------------
// Registers bound the tiles: a warp holds its scores (and dP) plus its output rows (dk and dv
// in the dk/dv kernel) as fp32 fragments. Two m16 tiles per warp in the forward read each K
// and V fragment from shared memory once for both, halving that traffic (with one m16 tile
// the forward would be bound by shared memory); 128 x 64 at HS = 128 is FlashAttention-2's
// tile on sm_80/sm_90. dq keeps one m16 tile per warp. The dk/dv kernel takes two where
// ptxas fits them without spilling (each Q and dO fragment then serves both); where it
// spills, the doubled dk, dv (and S^T, dP^T) fragments would go through local memory on
// every query tile. ptxas -v on sm_90, registers per thread (bytes of spill stores), ALiBi;
// T5 within 15 registers of these where not given:
//   HS                   32           64           128
//   forward             162          214          255       2 blocks of 4 warps per SM
//   dq                  140          158          166
//   dk/dv, 1 m16 tile   153          210          243       T5: 159, 178, 244
//   dk/dv, 2 m16 tiles  249          255 (448)    32 (8288) T5: 255 (12), 255 (596), 255 (2032)
// (At HS = 128 with ALiBi, ptxas keeps the whole arrays in local memory.) So two at HS = 32
// with ALiBi only, at 2 blocks of 4 warps per SM against 3 with one tile. With 32-query Q, dO
// tiles two would fit at HS = 64 (ALiBi 253, T5 254 spilling 8 bytes) and at HS = 32 with T5
// (186), for twice the query tiles: a trade to weigh with bench_gpu_attention.
// The T5 forward at HS = 128 takes 32-key tiles: its table reads spill 24 bytes at 64.
// These are the numbers to revisit with bench_gpu_attention.
template <int HS, bool kT5>
struct Tiles {
  static constexpr int kFwdWarps = 4;                      // forward: 4 warps x 32 query rows
  static constexpr int kFwdMT = 2;                         //   m16 tiles per warp
  static constexpr int kFwdBN = HS == 128 && kT5 ? 32 : 64;  //   keys per K, V tile
  static constexpr int kDqWarps = 4;                       // dq: 4 warps x 16 query rows
  static constexpr int kDqBN = 64;                         //   keys per K, V tile
  static constexpr int kKvWarps = 4;                       // dk/dv: 4 warps x 16 kKvMT key rows
  static constexpr int kKvMT = HS == 32 && !kT5 ? 2 : 1;   //   m16 tiles per warp
  static constexpr int kKvBM = HS == 128 ? 32 : 64;        //   queries per Q, dO tile
};

}  // namespace
}  // namespace alibi::cuda
