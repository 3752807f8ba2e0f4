// The CUDA kernels other than attention, run on the host by the emulator in tests/emu/emu.h:
// what tests/emu/test_kernels_emu.cpp calls. Plain C++, no emulator macros: the kernels'
// translation units are tests/emu/emulated_{rows,elementwise,matmul_bias,bias_gelu,bf16,decode}.cpp.
//
//   cuda_emu::layernorm_forward(out, mean, rstd, x, w, b, N, C);  // host pointers throughout
//
// Each is cuda::NAME of kernels/cuda/ops.h (same contract, same signature), renamed into
// namespace cuda_emu so that a build with the real CUDA backend links both; bias_grad is the
// dbias launch of cuda::linear_backward (the GEMMs around it are cuBLAS: not emulated).
#pragma once

#include <cstdint>

#include "kernels/attention_decode.h"

namespace alibi::cuda_emu {

// ---- kernels/cuda/matmul.cu: the bias kernels only ------------------------------------------
void add_bias(float* out, const float* bias, int64_t N, int64_t OC);
void bias_grad(float* dbias, const float* dout, int64_t N, int64_t OC);  // dbias `+=`

// ---- kernels/cuda/bias_gelu.cu: the MLP's bias and GELU, fused (not the GEMM before them) ---
void bias_gelu_forward(float* pre, float* out, const float* bias, int64_t N, int64_t OC, uint16_t* out_bf16 = nullptr);
void gelu_bias_backward(float* dpre, float* dbias, const float* pre, const float* dout, int64_t N, int64_t OC);

// ---- kernels/cuda/bf16.cu: fp32 -> bf16 bits, nearest even (kernels/bf16.h) ------------------
void to_bf16(uint16_t* dst, const float* src, int64_t n);

// ---- kernels/cuda/rows.cu --------------------------------------------------------------------
void embedding_forward(float* out, const int32_t* host_tokens, const float* wte, int64_t N, int64_t C);
void embedding_backward(float* dwte, const float* dout, const int32_t* host_tokens, int64_t N, int64_t C);
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, uint16_t* out_bf16 = nullptr);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
void add_layernorm_forward(float* residual, float* out, float* mean, float* rstd, const float* a, const float* b,
                           const float* weight, const float* bias, int64_t N, int64_t C, uint16_t* out_bf16 = nullptr);
void vocab_ce_row_max(float* row_max, const float* logits, int64_t N, int64_t V, int64_t ld);
void vocab_ce_partials(double* sum_exp, double* target_logit, const float* logits, const float* row_max,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
void vocab_ce_losses(float* losses, const double* sum_exp, const double* target_logit, const float* row_max,
                     const int32_t* host_targets, int64_t N);
void vocab_ce_backward(float* dlogits, const float* logits, const float* row_max, const double* sum_exp,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld, float scale);

// ---- kernels/cuda/elementwise.cu -------------------------------------------------------------
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);
void add(float* out, const float* a, const float* b, int64_t n);
void scale_inplace(float* x, int64_t n, float s);
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t step);
void add_position_rows(float* x, const float* table, int64_t B, int64_t T, int64_t C, float scale);
void position_rows_backward(float* dtable, const float* dx, int64_t B, int64_t T, int64_t C);
double sum_squares(const float* x, int64_t n);
double sum(const float* x, int64_t n);
double sum_squares_many(const float* const* xs, const int64_t* ns, int count);

// ---- kernels/cuda/attention_decode.cu: the KV-cache decode ------------------------------------
void kv_cache_append(const DecodeParams<float>& p);
void attention_decode(const DecodeParams<float>& p);

}  // namespace alibi::cuda_emu
