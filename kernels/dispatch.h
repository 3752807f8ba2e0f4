// One entry point per operation that runs on the device the tensors live on: the CPU
// reference (kernels/ops.h, float or double) or the CUDA backend (kernels/cuda/ops.h,
// float only). Layers call these with their parameters' device:
//
//   ops::linear_forward<Real>(weight.device(), precision, out, inp, w, b, N, IC, OC);
//
// Token and target arrays are host pointers on both devices. A double tensor on CUDA, or
// Device::cuda in a build without the CUDA backend, is a DeviceError naming the fix.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/precision.h"
#include "runtime/enum_names.h"
#include "runtime/tensor.h"

namespace alibi {

template <>
struct EnumNames<MatmulPrecision> {
  static constexpr const char* option = "--matmul-precision";
  static constexpr std::array<std::pair<MatmulPrecision, const char*>, 4> values{
      {{MatmulPrecision::automatic, "auto"},
       {MatmulPrecision::bf16, "bf16"},
       {MatmulPrecision::tf32, "tf32"},
       {MatmulPrecision::fp32, "fp32"}}};
};

}  // namespace alibi

namespace alibi::ops {

// --matmul-precision for a device: auto is bf16 on CUDA and fp32 on the CPU; tf32 exists
// only on CUDA and CPU bf16 only in a oneDNN build (ConfigError naming the option and fix).
MatmulPrecision resolve_precision(Device device, MatmulPrecision precision);

// weight_bf16: the weight's bf16 working copy (layers/bf16_copy.h) or null, read under bf16
// precision only: the products that read the weight then round only the other operand.
// inp_bf16 (bf16 precision only; null: none): the input as its producer stored it in bf16
// (the layers keep the activations that feed products so); inp is then not read and may be
// null. Either way the products see the same bits.
template <class Real>
void linear_forward(Device device, MatmulPrecision precision, Real* out, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t IC, int64_t OC,
                    const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
template <class Real>
void linear_backward(Device device, MatmulPrecision precision, Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp, const Real* weight, int64_t N, int64_t IC, int64_t OC,
                     const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
template <class Real>
void add_bias(Device device, Real* out, const Real* bias, int64_t N, int64_t OC);
// out_bf16 (float only; null: none): gelu's output written there in bf16 instead of into out
// (null then), as products round it: the activation the MLP's second product reads.
template <class Real>
void linear_gelu_forward(Device device, MatmulPrecision precision, Real* pre, Real* out, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t IC, int64_t OC,
                         const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr, uint16_t* out_bf16 = nullptr);
// dst (n) = src rounded to bf16, nearest even: the products' rounding on that device
// (cpu::to_bf16, oneDNN's; cuda::to_bf16, kernels/bf16.h's).
void to_bf16(Device device, uint16_t* dst, const float* src, int64_t n);
template <class Real>
void gelu_bias_backward(Device device, Real* dpre, Real* dbias, const Real* pre, const Real* dout, int64_t N, int64_t OC);
template <class Real>
void embedding_forward(Device device, Real* out, const int32_t* tokens, const Real* wte, int64_t N, int64_t C);
template <class Real>
void embedding_backward(Device device, Real* dwte, const Real* dout, const int32_t* tokens, int64_t N, int64_t C);
template <class Real>
void add_position_rows(Device device, Real* x, const Real* table, int64_t B, int64_t T, int64_t C, Real scale);
template <class Real>
void position_rows_backward(Device device, Real* dtable, const Real* dx, int64_t B, int64_t T, int64_t C);
// out_bf16 (float only; null: none): the output written there in bf16 instead of into out
// (null then), rounded as the products round (to_bf16): the LayerNorms' outputs feed only
// products. On CUDA the kernel stores bf16 directly; the CPU rounds its fp32 rows once.
template <class Real>
void layernorm_forward(Device device, Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t C,
                       uint16_t* out_bf16 = nullptr);
template <class Real>
void layernorm_backward(Device device, Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp, const Real* weight, const Real* mean, const Real* rstd, int64_t N, int64_t C);
// residual = a + b, then out, mean, rstd = LayerNorm(residual): one kernel on CUDA (the block's
// residual add and the LayerNorm after it), the two CPU kernels otherwise (same numbers).
template <class Real>
void add_layernorm_forward(Device device, Real* residual, Real* out, Real* mean, Real* rstd, const Real* a, const Real* b, const Real* weight, const Real* bias, int64_t N, int64_t C,
                           uint16_t* out_bf16 = nullptr);
template <class Real>
void gelu_forward(Device device, Real* out, const Real* inp, int64_t n);
template <class Real>
void gelu_backward(Device device, Real* dinp, const Real* inp, const Real* dout, int64_t n);
template <class Real>
void vocab_ce_row_max(Device device, Real* row_max, const Real* logits, int64_t N, int64_t V, int64_t ld);
template <class Real>
void vocab_ce_partials(Device device, double* sum_exp, double* target_logit, const Real* logits, const Real* row_max, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
template <class Real>
void vocab_ce_losses(Device device, Real* losses, const double* sum_exp, const double* target_logit, const Real* row_max, const int32_t* targets, int64_t N);
template <class Real>
void vocab_ce_backward(Device device, Real* dlogits, const Real* logits, const Real* row_max, const double* sum_exp, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, Real scale);
template <class Real>
void add(Device device, Real* out, const Real* a, const Real* b, int64_t n);
template <class Real>
void scale_inplace(Device device, Real* x, int64_t n, Real s);
template <class Real>
void adamw_update(Device device, Real* param, const Real* grad, Real* m, Real* v, int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step);
template <class Real>
double sum_squares(Device device, const Real* x, int64_t n);
template <class Real>
double sum(Device device, const Real* x, int64_t n);
// The sum of squares of `count` tensors xs[i] of ns[i] elements: on CUDA one reduction on the
// device and one host read (the gradient norm's one wait per step); on the CPU
// sum_squares of each, added in order.
template <class Real>
double sum_squares_many(Device device, const Real* const* xs, const int64_t* ns, int count);

// Fused causal attention (kernels/attention.h); every pointer on `device`.
template <class Real>
void attention_forward(Device device, const AttentionParams<Real>& p);
template <class Real>
void attention_backward(Device device, const AttentionParams<Real>& p, const Real* dout, Real* dq, Real* dk, Real* dv);
// The elements (bf16, as uint16_t bits) of the p.prepared array the backend keeps for
// these params: 3 B NH T HS on CUDA's tensor-core path, 0 where nothing reads it (the CPU,
// CUDA's exact kernels), so a caller allocates it only where it is used.
template <class Real>
int64_t attention_prepared_elements(Device device, const AttentionParams<Real>& p);
// KV-cache decode (kernels/attention_decode.h): the CPU kernels, or the CUDA ones for float.
template <class Real>
void kv_cache_append(Device device, const DecodeParams<Real>& p);
template <class Real>
void attention_decode(Device device, const DecodeParams<Real>& p);

}  // namespace alibi::ops
