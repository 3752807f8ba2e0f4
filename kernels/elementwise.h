// Per-element math shared by the CPU and CUDA backends: the formulas live here once, so
// the CPU tests (finite differences, hand-computed values) exercise exactly what the GPU
// runs. Templated on the compute type: float on the fast paths, double in the gradient
// checks.
//
//   out[i] = gelu(inp[i]);
//   dinp[i] = dout[i] * gelu_grad(inp[i]);
//   adamw_element(p[i], g[i], m[i], v[i], hp);   // hp = adamw_params<float>(lr, ..., step)
//   o[c] = layernorm_element(x[c], mean, rstd, w[c], b[c]);
//   loss = cross_entropy_loss(sum_exp, target_logit, row_max);
#pragma once

#include <math.h>  // tanhf/tanh, sqrtf/sqrt, pow: the C names exist on host and device alike

#include <cstdint>

#include "kernels/alibi.h"  // ALIBI_HOST_DEVICE

namespace alibi {

// ---- math overloads that resolve to the same name on host and device --------------------
ALIBI_HOST_DEVICE inline float tanh_(float x) { return tanhf(x); }
ALIBI_HOST_DEVICE inline double tanh_(double x) { return tanh(x); }
ALIBI_HOST_DEVICE inline float sqrt_(float x) { return sqrtf(x); }
ALIBI_HOST_DEVICE inline double sqrt_(double x) { return sqrt(x); }
ALIBI_HOST_DEVICE inline float exp_(float x) { return expf(x); }
ALIBI_HOST_DEVICE inline double exp_(double x) { return exp(x); }

// ---- GELU, tanh approximation (Hendrycks & Gimpel; GPT-2's form) -------------------------
// gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
template <class T>
ALIBI_HOST_DEVICE inline T gelu(T x) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  const T u = k * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + tanh_(u));
}

// d gelu / dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
template <class T>
ALIBI_HOST_DEVICE inline T gelu_grad(T x) {
  const T k = T(0.7978845608028654);
  const T u = k * (x + T(0.044715) * x * x * x);
  const T t = tanh_(u);
  const T du = k * (T(1) + T(3 * 0.044715) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

// ---- LayerNorm rows (eps 1e-5, biased variance) -------------------------------------------
// Forward element: out = (x - mean) * rstd * w + b.
template <class T>
ALIBI_HOST_DEVICE inline T layernorm_element(T x, T mean, T rstd, T w, T b) {
  return (x - mean) * rstd * w + b;
}
// Backward element with xhat = (x - mean) * rstd, g = w * dout and the row means
// g_mean = mean_c(g), gx_mean = mean_c(g * xhat):  dx = rstd * (g - g_mean - xhat * gx_mean).
template <class T>
ALIBI_HOST_DEVICE inline T layernorm_dx(T g, T xhat, T rstd, T g_mean, T gx_mean) {
  return rstd * (g - g_mean - xhat * gx_mean);
}

// ---- softmax cross-entropy rows -------------------------------------------------------------
// loss = log(sum_v exp(x_v - m)) + m - x_target, from the row's pieces.
ALIBI_HOST_DEVICE inline double cross_entropy_loss(double sum_exp, double target_logit, double row_max) {
  return log(sum_exp) - (target_logit - row_max);
}
// d loss / d x_v = scale * (exp(x_v - m) / sum_exp - [v == target]); inv_sum = 1 / sum_exp.
// From e = exp(x_v - m), for a caller with its own exp (the CPU's vectorisable one).
template <class T>
ALIBI_HOST_DEVICE inline T cross_entropy_grad_from_exp(T e, T inv_sum, T scale, bool is_target) {
  return scale * (e * inv_sum) - (is_target ? scale : T(0));
}
template <class T>
ALIBI_HOST_DEVICE inline T cross_entropy_grad(T x, T row_max, T inv_sum, T scale, bool is_target) {
  return cross_entropy_grad_from_exp(exp_(x - row_max), inv_sum, scale, is_target);
}

// ---- AdamW (Loshchilov & Hutter), decoupled weight decay ---------------------------------
// The hyperparameters of one step, with the bias corrections 1 - beta^step computed once
// per step (in double, on the host) instead of once per element.
template <class T>
struct AdamWParams {
  T lr;            // learning rate of this step (after warm-up / decay)
  T beta1, beta2;  // moment decay rates
  T eps;           // added to sqrt(vhat)
  T weight_decay;  // decoupled: p -= lr * weight_decay * p, not scaled by 1/sqrt(vhat)
  T bias1, bias2;  // 1 - beta1^step, 1 - beta2^step (step 1-based)
};

template <class T>
inline AdamWParams<T> adamw_params(float lr, float beta1, float beta2, float eps, float weight_decay,
                                   int64_t step) {
  const double s = static_cast<double>(step);
  return AdamWParams<T>{T(lr),  T(beta1), T(beta2), T(eps), T(weight_decay),
                        T(1.0 - pow(static_cast<double>(beta1), s)),
                        T(1.0 - pow(static_cast<double>(beta2), s))};
}

// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p),  mhat = m / bias1, vhat = v / bias2
template <class T>
ALIBI_HOST_DEVICE inline void adamw_element(T& p, T g, T& m, T& v, const AdamWParams<T>& hp) {
  m = hp.beta1 * m + (T(1) - hp.beta1) * g;
  v = hp.beta2 * v + (T(1) - hp.beta2) * g * g;
  const T mhat = m / hp.bias1;
  const T vhat = v / hp.bias2;
  p -= hp.lr * (mhat / (sqrt_(vhat) + hp.eps) + hp.weight_decay * p);
}

}  // namespace alibi
