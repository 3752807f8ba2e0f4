// The element, row and matrix operations of the model, declared once. The CPU versions
// (kernels/cpu/, OpenMP + BLAS) are the reference, templated on float and double so the
// gradient checks run in double; the CUDA backend (kernels/cuda/ops.h) implements the same
// set in float, and kernels/dispatch.h (ops::) picks one by the tensors' device.
//
// Conventions (llm.c's): N = rows (B*T tokens). Backward functions state their
// contract: parameter gradients `+=` (they accumulate over micro-batches), activation
// gradients `=` unless marked `+=` (the residual stream).
//
//   cpu::layernorm_forward(out, mean, rstd, x, w, b, N, C);
//   cpu::layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);   // dx +=, dw += , db +=
#pragma once

#include <cstdint>

#include "kernels/precision.h"

namespace alibi::cpu {

// ---- linear: out (N, OC) = inp (N, IC) W^T + b, W stored (OC, IC) -----------------------
// precision bf16 (float only): the three products on bf16-rounded operands, fp32
// accumulation (kernels/blas.h gemm_bf16); fp32 otherwise. Double is always double.
// weight_bf16 (bf16 precision only; null: none): W's bf16 working copy, (OC, IC) like W and
// rounded as gemm_bf16 rounds (to_bf16), so the products that read W round only the other
// operand; the results are the same bits either way. inp_bf16 (likewise): the input
// already in bf16, as its producer stored it (layers keep the activations that feed products
// in bf16 under bf16 precision); inp is then not read and may be null. linear_backward
// rounds dout once for both of its products.
template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IC,
                    int64_t OC, MatmulPrecision precision = MatmulPrecision::fp32,
                    const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
// dinp (N, IC) `=` dout W (skipped when dinp is null); dweight (OC, IC) `+=` dout^T inp;
// dbias (OC) `+=` column sums of dout (skipped when null).
template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t N, int64_t IC, int64_t OC, MatmulPrecision precision = MatmulPrecision::fp32,
                     const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
// dbias (OC) `+=` column sums of dout (N, OC): linear_backward's dbias on its own.
template <class T>
void bias_grad(T* dbias, const T* dout, int64_t N, int64_t OC);

// ---- the MLP's fc with its GELU (the CUDA backend fuses bias and GELU; kernels/cuda/bias_gelu.cu)
// pre (N, OC) = inp W^T + bias; out = gelu(pre). weight_bf16, inp_bf16 as linear_forward's.
template <class T>
void linear_gelu_forward(T* pre, T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IC,
                         int64_t OC, MatmulPrecision precision = MatmulPrecision::fp32,
                         const uint16_t* weight_bf16 = nullptr, const uint16_t* inp_bf16 = nullptr);
// dpre `=` dout * gelu'(pre) (dpre may alias dout); dbias `+=` the column sums of dpre.
template <class T>
void gelu_bias_backward(T* dpre, T* dbias, const T* pre, const T* dout, int64_t N, int64_t OC);

// ---- embedding: out (N, C) = wte[tokens] -------------------------------------------------
// A negative token selects no row: its output row is zero and it adds no gradient (a
// vocab-parallel shard passes token - v0 for its rows and -1 for the others).
template <class T>
void embedding_forward(T* out, const int32_t* tokens, const T* wte, int64_t N, int64_t C);
// dwte (V, C) `+=` scatter-add of dout (N, C) by token.
template <class T>
void embedding_backward(T* dwte, const T* dout, const int32_t* tokens, int64_t N, int64_t C);

// ---- LayerNorm over the last dimension, eps = 1e-5 ---------------------------------------
// out (N, C); mean, rstd (N) saved for backward.
template <class T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias,
                       int64_t N, int64_t C);
// dinp `+=` (its input is the residual stream); dweight, dbias `+=`.
template <class T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                        const T* mean, const T* rstd, int64_t N, int64_t C);

// ---- GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) -----------
template <class T>
void gelu_forward(T* out, const T* inp, int64_t n);
// dinp `=` dout * gelu'(inp).
template <class T>
void gelu_backward(T* dinp, const T* inp, const T* dout, int64_t n);

// ---- softmax cross-entropy over logits (N, V) --------------------------------------------
// losses (N) = -log softmax(logits)[target]; a negative target means "not scored": loss 0.
template <class T>
void cross_entropy_forward(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V);
// dlogits `=` scale * (softmax(logits) - onehot(target)) for scored rows, 0 for the others.
// dlogits may alias logits (computed in place).
template <class T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                            T scale);

// ---- vocabulary-parallel softmax cross-entropy ---------------------------------------------
// A rank holds logits (N, V) for vocabulary rows [v0, v0 + V) of the full vocabulary. Row
// n's loss, log sum_v exp(x_v - m) + m - x_target with m the max over the *whole*
// vocabulary, is assembled from local pieces with TP all-reduces (max, then sums) in
// between; with one rank those reductions are the identity. Negative targets: not scored.
// Rows are `ld` >= V apart: columns [V, ld) are the LM head's padding (the GPU rounds the
// shard's rows up to a multiple of 64 for its GEMMs). They are never read, so never scored.
// row_max `=` the local maximum of each row.
template <class T>
void vocab_ce_row_max(T* row_max, const T* logits, int64_t N, int64_t V, int64_t ld);
// sum_exp `=` sum_v exp(x_v - row_max) over the local rows; target_logit `=` x[target - v0]
// when the target lies in this shard, else 0 (so a sum over ranks gives the target's logit).
template <class T>
void vocab_ce_partials(double* sum_exp, double* target_logit, const T* logits, const T* row_max,
                       const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
// losses `=` log(sum_exp) + row_max - target_logit, 0 for unscored rows.
template <class T>
void vocab_ce_losses(T* losses, const double* sum_exp, const double* target_logit, const T* row_max,
                     const int32_t* targets, int64_t N);
// dlogits `=` scale * (exp(x - row_max) / sum_exp - [v0 + v == target]), 0 for unscored rows
// and for the padding columns [V, ld) (so the padded head rows' gradient stays zero); may
// alias logits.
template <class T>
void vocab_ce_backward(T* dlogits, const T* logits, const T* row_max, const double* sum_exp,
                       const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, T scale);

// ---- residual add: out = a + b (out may alias a or b) -------------------------------------
template <class T>
void add(T* out, const T* a, const T* b, int64_t n);
// out (N, OC) += bias (OC), each row.
template <class T>
void add_bias(T* out, const T* bias, int64_t N, int64_t OC);

// ---- absolute positions on the embedded tokens (learned, sinusoidal) ----------------------
// x (B*len, C) = scale * x + table[t] (t = row % len).
template <class T>
void add_position_rows(T* x, const T* table, int64_t B, int64_t len, int64_t C, T scale);
// dtable (T, C) `+=` sum over b of the rows of dx (B*T, C) at t (b in order).
template <class T>
void position_rows_backward(T* dtable, const T* dx, int64_t B, int64_t len, int64_t C);

// ---- optimizer -----------------------------------------------------------------------------
// AdamW (Loshchilov & Hutter) with decoupled weight decay and bias correction at `step`
// (1-based): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p).
template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step);
// Sum of squares in double (for the global gradient norm); sum in double (the loss sum).
template <class T>
double sum_squares(const T* x, int64_t n);
template <class T>
double sum(const T* x, int64_t n);
// x *= s.
template <class T>
void scale_inplace(T* x, int64_t n, T s);

}  // namespace alibi::cpu
