// The device switch behind kernels/dispatch.h.
#include "kernels/dispatch.h"

#include <type_traits>

#include "kernels/blas.h"
#include "kernels/ops.h"
#include "runtime/error.h"
#ifdef ALIBI_WITH_CUDA
#include "kernels/cuda/ops.h"
#endif

namespace alibi::ops {

MatmulPrecision resolve_precision(Device device, MatmulPrecision precision) {
  if (precision == MatmulPrecision::automatic)
    return device == Device::cuda ? MatmulPrecision::bf16 : MatmulPrecision::fp32;
  if (device == Device::cpu) {
    ALIBI_CHECK_AS(ConfigError, precision != MatmulPrecision::tf32,
                   "--matmul-precision tf32 is a CUDA tensor-core mode; on the CPU use fp32 or bf16");
    ALIBI_CHECK_AS(ConfigError, precision != MatmulPrecision::bf16 || cpu::gemm_bf16_available(),
                   "--matmul-precision bf16 on the CPU needs a oneDNN build (cmake -DALIBI_GEMM=onednn, "
                   "apt-get install libdnnl-dev); this one uses " << cpu::gemm_library() << ": use fp32");
  }
  return precision;
}

namespace {
// The CUDA backend computes in float (bf16 tensor cores inside); double is CPU-only.
template <class Real>
void check_cuda(const char* op) {
#ifdef ALIBI_WITH_CUDA
  ALIBI_CHECK_AS(DeviceError, (std::is_same_v<Real, float>),
                 op << " in double runs on the CPU only (gradient checks); use float tensors on --device cuda");
#else
  ALIBI_CHECK_AS(DeviceError, false,
                 op << " on --device cuda: this build has no CUDA backend (nvcc was not found when it was configured); "
                    << "run with --device cpu");
#endif
}

// A CPU kernel's output, into out or, given out_bf16, into fp32 scratch rounded once into
// out_bf16 by the products' own rounding (cpu::to_bf16, oneDNN's reorder): a kept bf16
// activation holds the very bits its product would have rounded the fp32 one to.
template <class Real, class Kernel>
void cpu_output(Real* out, uint16_t* out_bf16, int64_t n, Kernel&& kernel) {
  if (out_bf16 == nullptr) return kernel(out);
  if constexpr (std::is_same_v<Real, float>) {
    Tensor scratch = Tensor::empty({n}, DType::f32, Device::cpu);
    kernel(scratch.data<float>());
    return cpu::to_bf16(out_bf16, scratch.data<float>(), n);
  }
  throw Error(ErrorKind::internal, "a bf16 output of a double kernel");
}
}  // namespace

// check_cuda throws for every case that does not reach the CUDA call.
#ifdef ALIBI_WITH_CUDA
#define ALIBI_ON_CUDA(op, call)                               \
  check_cuda<Real>(op);                                       \
  if constexpr (std::is_same_v<Real, float>) return call;    \
  throw Error(ErrorKind::internal, op);
#else
#define ALIBI_ON_CUDA(op, call) \
  check_cuda<Real>(op);         \
  throw Error(ErrorKind::internal, op);
#endif

template <class Real>
void linear_forward(Device device, MatmulPrecision precision, Real* out, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t IC, int64_t OC,
                    const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  if (device == Device::cpu) return cpu::linear_forward<Real>(out, inp, weight, bias, N, IC, OC, precision, weight_bf16, inp_bf16);
  ALIBI_ON_CUDA("linear_forward", cuda::linear_forward(out, inp, weight, bias, N, IC, OC, precision, weight_bf16, inp_bf16))
}

template <class Real>
void linear_backward(Device device, MatmulPrecision precision, Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp, const Real* weight, int64_t N, int64_t IC, int64_t OC,
                     const uint16_t* weight_bf16, const uint16_t* inp_bf16) {
  if (device == Device::cpu) return cpu::linear_backward<Real>(dinp, dweight, dbias, dout, inp, weight, N, IC, OC, precision, weight_bf16, inp_bf16);
  ALIBI_ON_CUDA("linear_backward", cuda::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC, precision, weight_bf16, inp_bf16))
}

template <class Real>
void linear_gelu_forward(Device device, MatmulPrecision precision, Real* pre, Real* out, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t IC, int64_t OC,
                         const uint16_t* weight_bf16, const uint16_t* inp_bf16, uint16_t* out_bf16) {
  if (device == Device::cpu)
    return cpu_output(out, out_bf16, N * OC, [&](Real* o) {
      cpu::linear_gelu_forward<Real>(pre, o, inp, weight, bias, N, IC, OC, precision, weight_bf16, inp_bf16);
    });
  ALIBI_ON_CUDA("linear_gelu_forward", cuda::linear_gelu_forward(pre, out, inp, weight, bias, N, IC, OC, precision, weight_bf16, inp_bf16, out_bf16))
}

void to_bf16(Device device, uint16_t* dst, const float* src, int64_t n) {
  if (device == Device::cpu) return cpu::to_bf16(dst, src, n);
#ifdef ALIBI_WITH_CUDA
  return cuda::to_bf16(dst, src, n);
#else
  ALIBI_CHECK_AS(DeviceError, false, "to_bf16 on --device cuda: this build has no CUDA backend (nvcc was not found "
                                     "when it was configured); run with --device cpu");
#endif
}

template <class Real>
void gelu_bias_backward(Device device, Real* dpre, Real* dbias, const Real* pre, const Real* dout, int64_t N, int64_t OC) {
  if (device == Device::cpu) return cpu::gelu_bias_backward<Real>(dpre, dbias, pre, dout, N, OC);
  ALIBI_ON_CUDA("gelu_bias_backward", cuda::gelu_bias_backward(dpre, dbias, pre, dout, N, OC))
}

template <class Real>
void add_bias(Device device, Real* out, const Real* bias, int64_t N, int64_t OC) {
  if (device == Device::cpu) return cpu::add_bias<Real>(out, bias, N, OC);
  ALIBI_ON_CUDA("add_bias", cuda::add_bias(out, bias, N, OC))
}

template <class Real>
void embedding_forward(Device device, Real* out, const int32_t* tokens, const Real* wte, int64_t N, int64_t C) {
  if (device == Device::cpu) return cpu::embedding_forward<Real>(out, tokens, wte, N, C);
  ALIBI_ON_CUDA("embedding_forward", cuda::embedding_forward(out, tokens, wte, N, C))
}

template <class Real>
void embedding_backward(Device device, Real* dwte, const Real* dout, const int32_t* tokens, int64_t N, int64_t C) {
  if (device == Device::cpu) return cpu::embedding_backward<Real>(dwte, dout, tokens, N, C);
  ALIBI_ON_CUDA("embedding_backward", cuda::embedding_backward(dwte, dout, tokens, N, C))
}

template <class Real>
void add_position_rows(Device device, Real* x, const Real* table, int64_t B, int64_t T, int64_t C, Real scale) {
  if (device == Device::cpu) return cpu::add_position_rows<Real>(x, table, B, T, C, scale);
  ALIBI_ON_CUDA("add_position_rows", cuda::add_position_rows(x, table, B, T, C, scale))
}

template <class Real>
void position_rows_backward(Device device, Real* dtable, const Real* dx, int64_t B, int64_t T, int64_t C) {
  if (device == Device::cpu) return cpu::position_rows_backward<Real>(dtable, dx, B, T, C);
  ALIBI_ON_CUDA("position_rows_backward", cuda::position_rows_backward(dtable, dx, B, T, C))
}

template <class Real>
void layernorm_forward(Device device, Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight, const Real* bias, int64_t N, int64_t C,
                       uint16_t* out_bf16) {
  if (device == Device::cpu)
    return cpu_output(out, out_bf16, N * C, [&](Real* o) { cpu::layernorm_forward<Real>(o, mean, rstd, inp, weight, bias, N, C); });
  ALIBI_ON_CUDA("layernorm_forward", cuda::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, out_bf16))
}

template <class Real>
void layernorm_backward(Device device, Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp, const Real* weight, const Real* mean, const Real* rstd, int64_t N, int64_t C) {
  if (device == Device::cpu) return cpu::layernorm_backward<Real>(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  ALIBI_ON_CUDA("layernorm_backward", cuda::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C))
}

template <class Real>
void gelu_forward(Device device, Real* out, const Real* inp, int64_t n) {
  if (device == Device::cpu) return cpu::gelu_forward<Real>(out, inp, n);
  ALIBI_ON_CUDA("gelu_forward", cuda::gelu_forward(out, inp, n))
}

template <class Real>
void gelu_backward(Device device, Real* dinp, const Real* inp, const Real* dout, int64_t n) {
  if (device == Device::cpu) return cpu::gelu_backward<Real>(dinp, inp, dout, n);
  ALIBI_ON_CUDA("gelu_backward", cuda::gelu_backward(dinp, inp, dout, n))
}

template <class Real>
void vocab_ce_row_max(Device device, Real* row_max, const Real* logits, int64_t N, int64_t V, int64_t ld) {
  if (device == Device::cpu) return cpu::vocab_ce_row_max<Real>(row_max, logits, N, V, ld);
  ALIBI_ON_CUDA("vocab_ce_row_max", cuda::vocab_ce_row_max(row_max, logits, N, V, ld))
}

template <class Real>
void vocab_ce_partials(Device device, double* sum_exp, double* target_logit, const Real* logits, const Real* row_max, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld) {
  if (device == Device::cpu) return cpu::vocab_ce_partials<Real>(sum_exp, target_logit, logits, row_max, targets, v0, N, V, ld);
  ALIBI_ON_CUDA("vocab_ce_partials", cuda::vocab_ce_partials(sum_exp, target_logit, logits, row_max, targets, v0, N, V, ld))
}

template <class Real>
void vocab_ce_losses(Device device, Real* losses, const double* sum_exp, const double* target_logit, const Real* row_max, const int32_t* targets, int64_t N) {
  if (device == Device::cpu) return cpu::vocab_ce_losses<Real>(losses, sum_exp, target_logit, row_max, targets, N);
  ALIBI_ON_CUDA("vocab_ce_losses", cuda::vocab_ce_losses(losses, sum_exp, target_logit, row_max, targets, N))
}

template <class Real>
void vocab_ce_backward(Device device, Real* dlogits, const Real* logits, const Real* row_max, const double* sum_exp, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, Real scale) {
  if (device == Device::cpu) return cpu::vocab_ce_backward<Real>(dlogits, logits, row_max, sum_exp, targets, v0, N, V, ld, scale);
  ALIBI_ON_CUDA("vocab_ce_backward", cuda::vocab_ce_backward(dlogits, logits, row_max, sum_exp, targets, v0, N, V, ld, scale))
}

template <class Real>
void add(Device device, Real* out, const Real* a, const Real* b, int64_t n) {
  if (device == Device::cpu) return cpu::add<Real>(out, a, b, n);
  ALIBI_ON_CUDA("add", cuda::add(out, a, b, n))
}

template <class Real>
void scale_inplace(Device device, Real* x, int64_t n, Real s) {
  if (device == Device::cpu) return cpu::scale_inplace<Real>(x, n, s);
  ALIBI_ON_CUDA("scale_inplace", cuda::scale_inplace(x, n, s))
}

template <class Real>
void adamw_update(Device device, Real* param, const Real* grad, Real* m, Real* v, int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  if (device == Device::cpu) return cpu::adamw_update<Real>(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step);
  ALIBI_ON_CUDA("adamw_update", cuda::adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step))
}

template <class Real>
double sum_squares(Device device, const Real* x, int64_t n) {
  if (device == Device::cpu) return cpu::sum_squares<Real>(x, n);
  ALIBI_ON_CUDA("sum_squares", cuda::sum_squares(x, n))
}

template <class Real>
double sum_squares_many(Device device, const Real* const* xs, const int64_t* ns, int count) {
  if (device == Device::cpu) {
    double total = 0.0;
    for (int i = 0; i < count; ++i) total += cpu::sum_squares<Real>(xs[i], ns[i]);
    return total;
  }
  ALIBI_ON_CUDA("sum_squares_many", cuda::sum_squares_many(xs, ns, count))
}

template <class Real>
void add_layernorm_forward(Device device, Real* residual, Real* out, Real* mean, Real* rstd, const Real* a, const Real* b, const Real* weight, const Real* bias, int64_t N, int64_t C,
                           uint16_t* out_bf16) {
  if (device == Device::cpu) {
    cpu::add<Real>(residual, a, b, N * C);
    return cpu_output(out, out_bf16, N * C, [&](Real* o) { cpu::layernorm_forward<Real>(o, mean, rstd, residual, weight, bias, N, C); });
  }
  ALIBI_ON_CUDA("add_layernorm_forward", cuda::add_layernorm_forward(residual, out, mean, rstd, a, b, weight, bias, N, C, out_bf16))
}

template <class Real>
double sum(Device device, const Real* x, int64_t n) {
  if (device == Device::cpu) return cpu::sum<Real>(x, n);
  ALIBI_ON_CUDA("sum", cuda::sum(x, n))
}

template <class Real>
void attention_forward(Device device, const AttentionParams<Real>& p) {
  if (device == Device::cpu) return cpu::attention_forward<Real>(p);
  ALIBI_ON_CUDA("attention_forward", cuda::attention_forward(p))
}

template <class Real>
void attention_backward(Device device, const AttentionParams<Real>& p, const Real* dout, Real* dq, Real* dk, Real* dv) {
  if (device == Device::cpu) return cpu::attention_backward<Real>(p, dout, dq, dk, dv);
  ALIBI_ON_CUDA("attention_backward", cuda::attention_backward(p, dout, dq, dk, dv))
}

template <class Real>
int64_t attention_prepared_elements(Device device, const AttentionParams<Real>& p) {
  if (device == Device::cpu) return 0;  // the CPU kernels read q, k, v where they lie
  ALIBI_ON_CUDA("attention_prepared_elements", cuda::attention_prepared_elements(p))
}

template <class Real>
void kv_cache_append(Device device, const DecodeParams<Real>& p) {
  if (device == Device::cpu) return cpu::kv_cache_append<Real>(p);
  ALIBI_ON_CUDA("kv_cache_append", cuda::kv_cache_append(p))
}

template <class Real>
void attention_decode(Device device, const DecodeParams<Real>& p) {
  if (device == Device::cpu) return cpu::attention_decode<Real>(p);
  ALIBI_ON_CUDA("attention_decode", cuda::attention_decode(p))
}

template void linear_forward<float>(Device, MatmulPrecision, float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*);
template void linear_forward<double>(Device, MatmulPrecision, double* out, const double* inp, const double* weight, const double* bias, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*);
template void linear_backward<float>(Device, MatmulPrecision, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*);
template void linear_backward<double>(Device, MatmulPrecision, double* dinp, double* dweight, double* dbias, const double* dout, const double* inp, const double* weight, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*);
template void linear_gelu_forward<float>(Device, MatmulPrecision, float* pre, float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*, uint16_t*);
template void linear_gelu_forward<double>(Device, MatmulPrecision, double* pre, double* out, const double* inp, const double* weight, const double* bias, int64_t N, int64_t IC, int64_t OC, const uint16_t*, const uint16_t*, uint16_t*);
template void gelu_bias_backward<float>(Device, float* dpre, float* dbias, const float* pre, const float* dout, int64_t N, int64_t OC);
template void gelu_bias_backward<double>(Device, double* dpre, double* dbias, const double* pre, const double* dout, int64_t N, int64_t OC);
template void add_bias<float>(Device, float* out, const float* bias, int64_t N, int64_t OC);
template void add_bias<double>(Device, double* out, const double* bias, int64_t N, int64_t OC);
template void embedding_forward<float>(Device, float* out, const int32_t* tokens, const float* wte, int64_t N, int64_t C);
template void embedding_forward<double>(Device, double* out, const int32_t* tokens, const double* wte, int64_t N, int64_t C);
template void embedding_backward<float>(Device, float* dwte, const float* dout, const int32_t* tokens, int64_t N, int64_t C);
template void embedding_backward<double>(Device, double* dwte, const double* dout, const int32_t* tokens, int64_t N, int64_t C);
template void add_position_rows<float>(Device, float* x, const float* table, int64_t B, int64_t T, int64_t C, float scale);
template void add_position_rows<double>(Device, double* x, const double* table, int64_t B, int64_t T, int64_t C, double scale);
template void position_rows_backward<float>(Device, float* dtable, const float* dx, int64_t B, int64_t T, int64_t C);
template void position_rows_backward<double>(Device, double* dtable, const double* dx, int64_t B, int64_t T, int64_t C);
template void layernorm_forward<float>(Device, float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias, int64_t N, int64_t C, uint16_t*);
template void layernorm_forward<double>(Device, double* out, double* mean, double* rstd, const double* inp, const double* weight, const double* bias, int64_t N, int64_t C, uint16_t*);
template void layernorm_backward<float>(Device, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
template void layernorm_backward<double>(Device, double* dinp, double* dweight, double* dbias, const double* dout, const double* inp, const double* weight, const double* mean, const double* rstd, int64_t N, int64_t C);
template void gelu_forward<float>(Device, float* out, const float* inp, int64_t n);
template void gelu_forward<double>(Device, double* out, const double* inp, int64_t n);
template void gelu_backward<float>(Device, float* dinp, const float* inp, const float* dout, int64_t n);
template void gelu_backward<double>(Device, double* dinp, const double* inp, const double* dout, int64_t n);
template void vocab_ce_row_max<float>(Device, float* row_max, const float* logits, int64_t N, int64_t V, int64_t ld);
template void vocab_ce_row_max<double>(Device, double* row_max, const double* logits, int64_t N, int64_t V, int64_t ld);
template void vocab_ce_partials<float>(Device, double* sum_exp, double* target_logit, const float* logits, const float* row_max, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
template void vocab_ce_partials<double>(Device, double* sum_exp, double* target_logit, const double* logits, const double* row_max, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld);
template void vocab_ce_losses<float>(Device, float* losses, const double* sum_exp, const double* target_logit, const float* row_max, const int32_t* targets, int64_t N);
template void vocab_ce_losses<double>(Device, double* losses, const double* sum_exp, const double* target_logit, const double* row_max, const int32_t* targets, int64_t N);
template void vocab_ce_backward<float>(Device, float* dlogits, const float* logits, const float* row_max, const double* sum_exp, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, float scale);
template void vocab_ce_backward<double>(Device, double* dlogits, const double* logits, const double* row_max, const double* sum_exp, const int32_t* targets, int64_t v0, int64_t N, int64_t V, int64_t ld, double scale);
template void add<float>(Device, float* out, const float* a, const float* b, int64_t n);
template void add<double>(Device, double* out, const double* a, const double* b, int64_t n);
template void scale_inplace<float>(Device, float* x, int64_t n, float s);
template void scale_inplace<double>(Device, double* x, int64_t n, double s);
template void adamw_update<float>(Device, float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step);
template void adamw_update<double>(Device, double* param, const double* grad, double* m, double* v, int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step);
template double sum_squares<float>(Device, const float* x, int64_t n);
template double sum_squares<double>(Device, const double* x, int64_t n);
template double sum_squares_many<float>(Device, const float* const* xs, const int64_t* ns, int count);
template double sum_squares_many<double>(Device, const double* const* xs, const int64_t* ns, int count);
template void add_layernorm_forward<float>(Device, float*, float*, float*, float*, const float*, const float*, const float*, const float*, int64_t, int64_t, uint16_t*);
template void add_layernorm_forward<double>(Device, double*, double*, double*, double*, const double*, const double*, const double*, const double*, int64_t, int64_t, uint16_t*);
template double sum<float>(Device, const float* x, int64_t n);
template double sum<double>(Device, const double* x, int64_t n);
template void attention_forward<float>(Device, const AttentionParams<float>&);
template void attention_backward<float>(Device, const AttentionParams<float>&, const float*, float*, float*, float*);
template void attention_forward<double>(Device, const AttentionParams<double>&);
template void attention_backward<double>(Device, const AttentionParams<double>&, const double*, double*, double*, double*);
template int64_t attention_prepared_elements<float>(Device, const AttentionParams<float>&);
template int64_t attention_prepared_elements<double>(Device, const AttentionParams<double>&);
template void kv_cache_append<float>(Device, const DecodeParams<float>&);
template void kv_cache_append<double>(Device, const DecodeParams<double>&);
template void attention_decode<float>(Device, const DecodeParams<float>&);
template void attention_decode<double>(Device, const DecodeParams<double>&);

}  // namespace alibi::ops
