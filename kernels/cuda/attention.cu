// Causal attention with in-kernel position biases on the GPU: the contract of
// cpu::attention_forward / attention_backward (kernels/attention.h) on device pointers,
// computed with FlashAttention-2's algorithm (Dao, 2023). No T x T score, weight or bias
// matrix exists anywhere; what the forward leaves for the backward is out and one
// log-sum-exp per query row, and every scratch buffer below is O(T).
//
// One call is a few launches on cuda::stream():
//   prepare   q, k, v (fp32, strided inside the fused qkv) -> one (B, NH, T, HS) array each,
//             rounded to bf16, with q and k turned by rotary's angles. Each key is read by
//             every later query tile; rounding it once is cheaper than once per read, and
//             16-byte cp.async copies into shared memory need the tile's own element type.
//             Costs half the bytes of the fp32 qkv, O(T). Given p.prepared (the caller's
//             array), the forward prepares into it and the backward skips this step, reading
//             what the forward left there: the same bits, so the same gradients.
//   forward   one block per (query tile, head, batch): the Q tile in shared memory, K and V
//             tiles streamed through it by cp.async; S = Q K^T and O += P V on bf16 tensor
//             cores (mma.sync m16n8k16, fp32 accumulation). Each warp owns 16 or 32 query
//             rows, so its scores, the online softmax (kernels/softmax.h) and its output
//             rows stay in registers, and the bias -slope (i - j) is formed there, per score.
//   backward  dO in bf16 and D = rowsum(dO * O) in fp32 (prepare_dout), then two kernels:
//             dk, dv per key tile (query tiles streamed) and dq per query tile (key tiles
//             streamed). Both recompute P from q, k and lse and keep every product in
//             registers. A separate dq pass recomputes two products (7 per pair of tiles
//             instead of FA2's 5); it buys a dq without atomics and without an fp32
//             scratch copy, so dq, dk and dv are bitwise reproducible. (The T5 table's
//             gradient is not: blocks add their sums with atomics.)
//   rotary    the backward's dq and dk are gradients of the rotated q and k; a last pass
//             turns them back in place with the transposed rotation, as the CPU does.
//
// The exact path (p.precision == fp32, which the tests use to compare with the CPU
// at fp32 tolerance) runs the same steps on fp32 copies with simple SIMT kernels. It also
// serves head sizes the tensor-core kernels are not built for (they take HS = 32, 64,
// 128); tf32 precision takes the bf16 path, attention having no tf32 kernel.
//
// Files: attention_tiles.cuh (arguments, biases, preparation, tensor-core primitives, tile
// sizes), attention_mma.cuh (tensor-core kernels), attention_simt.cuh (exact fp32 kernels);
// this file checks the parameters and launches them.
#include "kernels/cuda/ops.h"

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_simt.cuh"
#include "kernels/cuda/attention_tiles.cuh"
#include "kernels/cuda/common.cuh"
#include "runtime/error.h"
#include "runtime/tensor.h"

namespace alibi::cuda {
namespace {

// ---- host: checks, tables, launches ------------------------------------------------------------
constexpr int kMaxHeadSize = 128;  // the exact path's 4 dims per lane

// Tensor cores unless exact fp32 is asked for, at the head sizes they are built for.
bool use_tensor_cores(const AttentionParams<float>& p) {
  return p.precision != MatmulPrecision::fp32 && (p.HS == 32 || p.HS == 64 || p.HS == 128);
}

// Whether the call keeps its bf16 operands in the caller's p.prepared; the exact kernels
// prepare fp32 copies of their own and ignore it.
bool uses_prepared(const AttentionParams<float>& p) { return p.prepared && use_tensor_cores(p); }

enum class Pass { forward, backward };

// The host boundary: the CPU kernel's checks and messages, and the head sizes built here. A
// backward on the caller's prepared operands reads no fp32 q, k, v, so they may be null:
// out stands in for them in the shared check, which asks for all three.
void check_params(AttentionParams<float> p, const char* who, Pass pass) {
  if (pass == Pass::backward && uses_prepared(p) && !p.q && !p.k && !p.v) p.q = p.k = p.v = p.out;
  check_attention_params(p, who);
  ALIBI_CHECK_AS(ShapeError, p.HS <= kMaxHeadSize,
                 who << ": head size HS=" << p.HS << " > " << kMaxHeadSize
                     << " is not supported on CUDA; use more heads (HS = C / NH) or --device cpu");
}

constexpr int kElementwiseThreads = 256;

// The per-call tables of the position method and the prepared operands, alive until the
// call returns (the allocator hands freed blocks only to later work on the same stream).
struct Prepared {
  Tensor rope;       // (2, T, HS/2) cos, sin; rotary
  Tensor t5_bias;    // (NH, T); t5
  Tensor t5_bucket;  // (T); t5
  Tensor qkv;        // (3, B, NH, T, HS) of E: q, k, v; unless the caller's p.prepared holds them
  Tensor dout;       // (B, NH, T, HS) of E; backward
  Tensor D;          // (B, NH, T); backward
};

template <class E>
constexpr DType storage_dtype() {
  return sizeof(E) == 2 ? DType::u16 : DType::f32;  // bf16 travels as its bits
}

// The tables of the position method, and q, k, v in E: prepared into a temporary, or (the
// tensor-core path given p.prepared) into the caller's array by the forward, where the
// backward finds them.
template <class E>
Args<E> prepare(const AttentionParams<float>& p, Prepared& prep, Pass pass) {
  const int64_t n = (int64_t)p.B * p.NH * p.T * p.HS;
  Args<E> a;
  a.B = p.B;
  a.T = p.T;
  a.NH = p.NH;
  a.HS = p.HS;
  a.scale = 1.0f / std::sqrt(static_cast<float>(p.HS));
  a.out = p.out;
  a.lse = p.lse;
  a.alibi = p.bias == PositionBias::alibi;
  a.head_offset = p.head_offset;
  a.n_heads_total = p.n_heads_total;
  const float* rope = nullptr;
  if (p.bias == PositionBias::rotary) {
    prep.rope = Tensor::empty({2, (int64_t)p.T, p.HS / 2}, DType::f32, Device::cuda);
    rope_table_kernel<<<blocks_for((int64_t)p.T * (p.HS / 2), kElementwiseThreads), kElementwiseThreads, 0, stream()>>>(
        prep.rope.data<float>(), p.T, p.HS, p.rope_base);
    ALIBI_CUDA_LAUNCHED();
    rope = prep.rope.data<float>();
  }
  if (p.bias == PositionBias::t5) {
    prep.t5_bias = Tensor::empty({(int64_t)p.NH, (int64_t)p.T}, DType::f32, Device::cuda);
    prep.t5_bucket = Tensor::empty({(int64_t)p.T}, DType::i32, Device::cuda);
    t5_tables_kernel<<<blocks_for((int64_t)p.NH * p.T, kElementwiseThreads), kElementwiseThreads, 0, stream()>>>(
        prep.t5_bias.data<float>(), prep.t5_bucket.data<int32_t>(), p.t5_table, p.T, p.NH, p.t5_buckets,
        p.t5_max_distance);
    ALIBI_CUDA_LAUNCHED();
    a.t5_bias = prep.t5_bias.data<float>();
    a.t5_bucket = prep.t5_bucket.data<int32_t>();
    a.t5_buckets = p.t5_buckets;
    a.t5_max_distance = p.t5_max_distance;
  }
  const bool kept = sizeof(E) == 2 && uses_prepared(p);
  if (!kept) prep.qkv = Tensor::empty({3, n}, storage_dtype<E>(), Device::cuda);
  E* qkv = kept ? reinterpret_cast<E*>(p.prepared) : static_cast<E*>(prep.qkv.raw());
  if (!kept || pass == Pass::forward) {
    const int64_t rows = (int64_t)p.B * p.T * p.NH;  // one warp each
    prepare_qkv_kernel<E><<<blocks_for(rows * 32, kElementwiseThreads), kElementwiseThreads, 0, stream()>>>(
        qkv, qkv + n, qkv + 2 * n, p.q, p.k, p.v, p.batch_stride, p.row_stride, p.head_stride, p.B, p.T, p.NH,
        p.HS, rope);
    ALIBI_CUDA_LAUNCHED();
  }
  a.q = qkv;
  a.k = qkv + n;
  a.v = qkv + 2 * n;
  return a;
}

// Kernels with more than the default 48 KB of dynamic shared memory must say so.
template <class Kernel>
void allow_shared_memory(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    ALIBI_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

template <int HS, class Bias>
void forward_tensor_cores(const Args<bf16>& a) {
  using Tl = Tiles<HS, Bias::kT5>;
  constexpr int kBM = Tl::kFwdWarps * Tl::kFwdMT * 16;
  const auto kernel = forward_mma_kernel<HS, Tl::kFwdWarps, Tl::kFwdMT, Tl::kFwdBN, Bias>;
  const size_t smem = (size_t)(kBM + 2 * Tl::kFwdBN) * (HS + kPad) * sizeof(bf16);
  allow_shared_memory(kernel, smem);
  kernel<<<dim3((a.T + kBM - 1) / kBM, a.NH, a.B), Tl::kFwdWarps * 32, smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
}

template <int HS, class Bias>
void backward_tensor_cores(const Args<bf16>& a) {
  using Tl = Tiles<HS, Bias::kT5>;
  constexpr int kKvBN = Tl::kKvWarps * Tl::kKvMT * 16, kDqBM = Tl::kDqWarps * 16;
  const auto dkdv = dkdv_mma_kernel<HS, Tl::kKvWarps, Tl::kKvMT, Tl::kKvBM, Bias>;
  const size_t dkdv_smem = (size_t)(2 * kKvBN + 4 * Tl::kKvBM) * (HS + kPad) * sizeof(bf16) +
                           (4 * Tl::kKvBM + (Bias::kT5 ? a.t5_buckets : 0)) * sizeof(float);
  allow_shared_memory(dkdv, dkdv_smem);
  dkdv<<<dim3((a.T + kKvBN - 1) / kKvBN, a.NH, a.B), Tl::kKvWarps * 32, dkdv_smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
  const auto dq = dq_mma_kernel<HS, Tl::kDqWarps, Tl::kDqBN, Bias>;
  const size_t dq_smem = (size_t)(2 * kDqBM + 4 * Tl::kDqBN) * (HS + kPad) * sizeof(bf16);
  allow_shared_memory(dq, dq_smem);
  dq<<<dim3((a.T + kDqBM - 1) / kDqBM, a.NH, a.B), Tl::kDqWarps * 32, dq_smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
}

template <class Bias>
void forward_exact(const Args<float>& a) {
  const size_t smem = (size_t)kSimtTile * (3 * a.HS + 1) * sizeof(float);
  allow_shared_memory(forward_fp32_kernel<Bias>, smem);
  forward_fp32_kernel<Bias>
      <<<dim3((a.T + kSimtTile - 1) / kSimtTile, a.NH, a.B), kSimtThreads, smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
}

template <class Bias>
void backward_exact(const Args<float>& a) {
  const dim3 grid((a.T + kSimtTile - 1) / kSimtTile, a.NH, a.B);
  const size_t dkdv_smem =
      ((size_t)kSimtTile * (4 * a.HS + 2) + 2 * kSimtTile + (Bias::kT5 ? a.t5_buckets : 0)) * sizeof(float);
  allow_shared_memory(dkdv_fp32_kernel<Bias>, dkdv_smem);
  dkdv_fp32_kernel<Bias><<<grid, kSimtThreads, dkdv_smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
  const size_t dq_smem = (size_t)kSimtTile * (4 * a.HS + 2) * sizeof(float);
  allow_shared_memory(dq_fp32_kernel<Bias>, dq_smem);
  dq_fp32_kernel<Bias><<<grid, kSimtThreads, dq_smem, stream()>>>(a);
  ALIBI_CUDA_LAUNCHED();
}

template <class Bias>
void forward_launch(const AttentionParams<float>& p, Prepared& prep) {
  if (!use_tensor_cores(p)) return forward_exact<Bias>(prepare<float>(p, prep, Pass::forward));
  const Args<bf16> a = prepare<bf16>(p, prep, Pass::forward);
  if (p.HS == 32) return forward_tensor_cores<32, Bias>(a);
  if (p.HS == 64) return forward_tensor_cores<64, Bias>(a);
  return forward_tensor_cores<128, Bias>(a);
}

// Prepares the operands (as the forward does, unless it left them in p.prepared) and dout,
// D, then runs the backward kernels.
template <class E, class Bias>
void backward_with(const AttentionParams<float>& p, Prepared& prep, const float* dout, float* dq, float* dk,
                   float* dv) {
  Args<E> a = prepare<E>(p, prep, Pass::backward);
  const int64_t rows = (int64_t)p.B * p.T * p.NH;
  prep.dout = Tensor::empty({rows * p.HS}, storage_dtype<E>(), Device::cuda);
  prep.D = Tensor::empty({rows}, DType::f32, Device::cuda);
  prepare_dout_kernel<E><<<blocks_for(rows * 32, kElementwiseThreads), kElementwiseThreads, 0, stream()>>>(
      static_cast<E*>(prep.dout.raw()), prep.D.data<float>(), dout, p.out, p.B, p.T, p.NH, p.HS);
  ALIBI_CUDA_LAUNCHED();
  a.dout = static_cast<const E*>(prep.dout.raw());
  a.D = prep.D.data<float>();
  a.dq = dq;
  a.dk = dk;
  a.dv = dv;
  a.batch_stride = p.batch_stride;
  a.row_stride = p.row_stride;
  a.head_stride = p.head_stride;
  a.t5_grad = p.t5_table_grad;
  if constexpr (sizeof(E) == 4) {
    backward_exact<Bias>(a);
  } else {
    if (p.HS == 32) backward_tensor_cores<32, Bias>(a);
    else if (p.HS == 64) backward_tensor_cores<64, Bias>(a);
    else backward_tensor_cores<128, Bias>(a);
  }
}

template <class Bias>
void backward_launch(const AttentionParams<float>& p, Prepared& prep, const float* dout, float* dq, float* dk,
                     float* dv) {
  if (use_tensor_cores(p))
    backward_with<bf16, Bias>(p, prep, dout, dq, dk, dv);
  else
    backward_with<float, Bias>(p, prep, dout, dq, dk, dv);
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------
void attention_forward(const AttentionParams<float>& p) {
  check_params(p, "cuda::attention_forward", Pass::forward);
  Prepared prep;
  if (p.bias == PositionBias::t5)
    forward_launch<T5Bias>(p, prep);
  else
    forward_launch<AlibiBias>(p, prep);
}

// ---- backward ------------------------------------------------------------------------------
void attention_backward(const AttentionParams<float>& p, const float* dout, float* dq, float* dk, float* dv) {
  check_params(p, "cuda::attention_backward", Pass::backward);
  ALIBI_CHECK(dout && dq && dk && dv, "cuda::attention_backward: dout, dq, dk and dv must all be set");
  ALIBI_CHECK(p.bias != PositionBias::t5 || p.t5_table_grad,
              "cuda::attention_backward: bias t5 needs t5_table_grad, (t5_buckets, NH) = ("
                  << p.t5_buckets << ", " << p.NH << "), to add the table's gradient into");
  Prepared prep;
  if (p.bias == PositionBias::t5)
    backward_launch<T5Bias>(p, prep, dout, dq, dk, dv);
  else
    backward_launch<AlibiBias>(p, prep, dout, dq, dk, dv);
  if (p.bias == PositionBias::rotary) {  // gradients of the rotated q, k -> of q, k
    const int64_t rows = (int64_t)p.B * p.T * p.NH;  // one warp each
    for (float* g : {dq, dk}) {
      unrotate_kernel<<<blocks_for(rows * 32, kElementwiseThreads), kElementwiseThreads, 0, stream()>>>(
          g, p.batch_stride, p.row_stride, p.head_stride, p.B, p.T, p.NH, p.HS, prep.rope.data<float>());
      ALIBI_CUDA_LAUNCHED();
    }
  }
}

// ---- the prepared operands' size ------------------------------------------------------------
int64_t attention_prepared_elements(const AttentionParams<float>& p) {
  return use_tensor_cores(p) ? int64_t{3} * p.B * p.NH * p.T * p.HS : 0;
}

}  // namespace alibi::cuda
