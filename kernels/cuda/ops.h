// The CUDA backend: the operation set of kernels/ops.h (and cpu::attention_*) on device
// pointers, fp32 in memory. Compiled into alibi_kernels only when ALIBI_WITH_CUDA; callers
// go through kernels/dispatch.h, which picks this or the CPU version by the tensors'
// device. Plain C++ (no CUDA headers), so any translation unit may include it.
//
// Precision: tensors (activations, weights, gradients, optimizer state) are fp32; the
// matrix products run on bf16 tensor cores with fp32 accumulation (and the attention kernel
// rounds its q/k/v/p tiles to bf16), unless the call's MatmulPrecision::fp32 asks for exact
// fp32 (the tests use it to compare with the CPU at fp32 tolerances) or tf32 for tf32 tensor
// cores. A bf16 linear product given the weight's bf16 working copy (weight_bf16, made by
// to_bf16 once per weight change: layers/bf16_copy.h) rounds only the activation or gradient
// beside it (to_bf16 into scratch) and multiplies bf16 by bf16 (CUBLAS_COMPUTE_32F); without a
// copy, cuBLAS rounds both fp32 operands inside the product (CUBLAS_COMPUTE_32F_FAST_16BF).
// Softmax, LayerNorm, GELU, cross-entropy, AdamW and every reduction are fp32 or double.
//
// Token and target arrays are host pointers (the model keeps them on the host for its
// checks); the kernels upload them. Every call is ordered on runtime/device.h's
// cuda_stream() and returns without waiting, except those returning a host value.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/precision.h"

namespace alibi::cuda {

// ---- linear: out (N, OC) = inp (N, IC) W^T + b; W (OC, IC) ----------------------------------
// weight_bf16: W's bf16 working copy, (OC, IC) like W, or null; read under bf16 precision only.
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                    int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16 = nullptr,
                    const uint16_t* inp_bf16 = nullptr);
// dinp `=` (skipped when null), dweight `+=`, dbias `+=` (skipped when null).
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t N, int64_t IC, int64_t OC, MatmulPrecision precision,
                     const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
// out (N, OC) += bias (OC), each row.
void add_bias(float* out, const float* bias, int64_t N, int64_t OC);
// The MLP's fc and GELU (kernels/cuda/bias_gelu.cu): pre = inp W^T + bias, out = gelu(pre),
// the bias and the GELU in one pass after the GEMM; backward dpre `=` dout * gelu'(pre) (may
// alias dout) and dbias `+=` its column sums, in one pass.
void linear_gelu_forward(float* pre, float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                         int64_t IC, int64_t OC, MatmulPrecision precision, const uint16_t* weight_bf16 = nullptr,
                         const uint16_t* inp_bf16 = nullptr, uint16_t* out_bf16 = nullptr);
// dst (n) = src rounded to bf16, nearest even (kernels/bf16.h; kernels/cuda/bf16.cu).
void to_bf16(uint16_t* dst, const float* src, int64_t n);
// pre += bias; out = gelu(pre), or into out_bf16 in bf16 when given (out null then).
void bias_gelu_forward(float* pre, float* out, const float* bias, int64_t N, int64_t OC, uint16_t* out_bf16 = nullptr);
void gelu_bias_backward(float* dpre, float* dbias, const float* pre, const float* dout, int64_t N, int64_t OC);

// ---- embedding; tokens on the host, negative = no row --------------------------------------
void embedding_forward(float* out, const int32_t* host_tokens, const float* wte, int64_t N, int64_t C);
// dwte `+=`: deterministic (rows of one token are summed in position order by one block).
void embedding_backward(float* dwte, const float* dout, const int32_t* host_tokens, int64_t N, int64_t C);

// ---- positions added to the embedded tokens (learned, sinusoidal) ---------------------------
// x (B*T, C) = scale * x + table[t] (t = row % T).
void add_position_rows(float* x, const float* table, int64_t B, int64_t T, int64_t C, float scale);
// dtable (T, C) `+=` sum over b of dx (B*T, C) rows at t.
void position_rows_backward(float* dtable, const float* dx, int64_t B, int64_t T, int64_t C);

// ---- LayerNorm (eps 1e-5); dinp, dweight, dbias `+=` ----------------------------------------
// out_bf16 (null: none): the output stored in bf16 there instead of into out (null then).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, uint16_t* out_bf16 = nullptr);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
// residual = a + b and LayerNorm of it, fused: one warp per row writes the residual row and
// normalises it (the block's residual add, then ln2).
void add_layernorm_forward(float* residual, float* out, float* mean, float* rstd, const float* a, const float* b,
                           const float* weight, const float* bias, int64_t N, int64_t C, uint16_t* out_bf16 = nullptr);

// ---- GELU (tanh) ----------------------------------------------------------------------------
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);

// ---- vocabulary-parallel cross-entropy (see kernels/ops.h); targets on the host -------------
void vocab_ce_row_max(float* row_max, const float* logits, int64_t N, int64_t V, int64_t ld);
void vocab_ce_partials(double* sum_exp, double* target_logit, const float* logits, const float* row_max,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
void vocab_ce_losses(float* losses, const double* sum_exp, const double* target_logit, const float* row_max,
                     const int32_t* host_targets, int64_t N);
void vocab_ce_backward(float* dlogits, const float* logits, const float* row_max, const double* sum_exp,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld, float scale);

// ---- elementwise and optimizer --------------------------------------------------------------
void add(float* out, const float* a, const float* b, int64_t n);
void scale_inplace(float* x, int64_t n, float s);
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t step);
// Sum of squares in double, returned to the host (waits for the stream). Deterministic:
// fixed per-block partials summed on the host in order.
double sum_squares(const float* x, int64_t n);
// Sum of n floats in double, returned to the host (the loss sum).
double sum(const float* x, int64_t n);
// Sum of squares of `count` tensors (xs[i]: ns[i] floats, device pointers; the arrays on the
// host) in double: one launch over all of them, one device-side sum of the partials, one host
// read. Deterministic (fixed blocks per tensor, partials summed in a fixed order).
double sum_squares_many(const float* const* xs, const int64_t* ns, int count);

// ---- fused causal attention (kernels/cuda/attention.cu) -------------------------------------
// The contract of cpu::attention_forward / attention_backward (kernels/attention.h), with
// every pointer in p on the device. Flash-attention style: q/k/v tiles in shared memory,
// online softmax, the position bias formed in fp32 registers; O(T) memory.
void attention_forward(const AttentionParams<float>& p);
void attention_backward(const AttentionParams<float>& p, const float* dout, float* dq, float* dk, float* dv);
// The elements of the p.prepared array these params would use, 3 B NH T HS, on the tensor-core
// path; 0 on the exact kernels, which ignore it.
int64_t attention_prepared_elements(const AttentionParams<float>& p);

// ---- the KV-cache decode (kernels/cuda/attention_decode.cu) ---------------------------------
// cpu::kv_cache_append / attention_decode's contract (kernels/attention_decode.h), every
// pointer in p on the device; fp32, split over the keys for long contexts. Head size <= 256.
void kv_cache_append(const DecodeParams<float>& p);
void attention_decode(const DecodeParams<float>& p);

}  // namespace alibi::cuda
