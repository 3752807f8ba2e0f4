// One check of the CUDA attention kernels (kernels/cuda/attention.cu), shared by
// tests/emu/test_attention_emu.cpp (the kernels emulated on the host) and
// tests/gpu/test_cuda_attention.cpp (on a GPU): the case, its random inputs, its params,
// the CPU reference in double, and the tolerances the kernels are held to.
//
//   const AttentionCase c{2, 77, 3, 64, PositionBias::t5, MatmulPrecision::bf16};
//   const AttentionInputs in = attention_inputs(c);
//   const AttentionResults ref = cpu_attention_reference(c, in);
//   ... run the kernels on in (outputs from nans(), the T5 gradient from in.dtable0) ...
//   expect_close_relative_to_max("out", out, ref.out, c.max_rel(), c.mean_rel());
//
// Tolerances, relative to the largest |reference| value of each checked array:
//   exact fp32 kernels (MatmulPrecision::fp32, or a head size without tensor-core kernels):
//   max error 1e-4. They differ from the double reference by fp32 rounding in other
//   summation orders (1e-6 relative per dot product); the margin covers the T5 gradient,
//   a sum of up to B T^2 / 2 terms of both signs accumulated in fp32.
//   tensor cores (bf16, head sizes 32, 64, 128): max error 2e-2, mean error 4e-3, the T5
//   gradient included. q, k, v, dO and the weights P, dS are rounded to bf16, 8 significant
//   bits: 2^-9 relative per element, which an HS-term dot product turns into about
//   2^-9 sqrt(HS) of its typical size, and the softmax's exp passes on as an absolute
//   error of the scores. (The host emulation, rounding as the tensor cores do, errs by at
//   most 6e-3 max and 7e-4 mean on the cases of both tests: the bounds leave a factor of
//   3 to 5.)
#pragma once

#include <vector>

#include "kernels/attention.h"
#include "tests/random_vectors.h"

namespace alibi::test {

struct AttentionCase {
  int B, T, NH, HS;
  PositionBias bias;
  MatmulPrecision precision;
  int head_offset = 2;     // a shard: local heads [2, 2 + NH) ...
  int n_heads_total = 12;  // ... of 12 (not a power of two: both halves of the slope recipe)

  size_t qkv_size() const { return (size_t)B * T * NH * 3 * HS; }  // (B, T, NH, 3, HS)
  size_t out_size() const { return (size_t)B * T * NH * HS; }      // (B, T, NH, HS)
  size_t lse_size() const { return (size_t)B * NH * T; }           // (B, NH, T)
  size_t table_size() const { return (size_t)32 * NH; }            // (32 buckets, NH)
  // bf16 mode runs the tensor-core kernels where they exist; other head sizes the exact ones.
  bool tensor_cores() const {
    return precision != MatmulPrecision::fp32 && (HS == 32 || HS == 64 || HS == 128);
  }
  double max_rel() const { return tensor_cores() ? 2e-2 : 1e-4; }
  double mean_rel() const { return tensor_cores() ? 4e-3 : 0.0; }  // 0: not checked
};

struct AttentionInputs {
  std::vector<float> qkv;      // (B, T, NH, 3, HS)
  std::vector<float> dout;     // (B, T, NH, HS)
  std::vector<float> table;    // (32, NH): the T5 biases
  std::vector<float> dtable0;  // (32, NH): where the T5 gradient starts (the kernels add to it)
};

// Scores of unit scale (q, k of variance 1), so the softmax is neither flat nor one-hot.
inline AttentionInputs attention_inputs(const AttentionCase& c) {
  const int64_t n_qkv = c.qkv_size(), n_out = c.out_size(), n_table = c.table_size();
  return {uniform(n_qkv, 1, -1.7f, 1.7f), uniform(n_out, 2, -1.0f, 1.0f), uniform(n_table, 3, -1.0f, 1.0f),
          uniform(n_table, 4, -0.5f, 0.5f)};
}

// Params over a fused qkv (B, T, NH, 3, HS), as the model passes them.
template <class Real>
AttentionParams<Real> attention_params(const AttentionCase& c, const Real* qkv, Real* out, Real* lse,
                                       const Real* table, Real* dtable) {
  AttentionParams<Real> p = fused_qkv_params(qkv, out, lse, c.B, c.T, c.NH, c.HS);
  p.head_offset = c.head_offset;
  p.n_heads_total = c.n_heads_total;
  p.bias = c.bias;
  p.t5_table = table;
  p.t5_table_grad = dtable;
  p.precision = c.precision;
  return p;
}

struct AttentionResults {
  std::vector<double> out, lse, dqkv, dtable;  // shapes as AttentionInputs'; dtable includes dtable0
};

// The CPU kernels in double on the same inputs: the reference the CUDA kernels are held to.
inline AttentionResults cpu_attention_reference(const AttentionCase& c, const AttentionInputs& in) {
  std::vector<double> x(in.qkv.begin(), in.qkv.end()), dy(in.dout.begin(), in.dout.end()),
      tab(in.table.begin(), in.table.end());
  AttentionResults ref;
  ref.out.assign(c.out_size(), 0.0);
  ref.lse.assign(c.lse_size(), 0.0);
  ref.dqkv.assign(c.qkv_size(), 0.0);
  ref.dtable.assign(in.dtable0.begin(), in.dtable0.end());
  const AttentionParams<double> p =
      attention_params<double>(c, x.data(), ref.out.data(), ref.lse.data(), tab.data(), ref.dtable.data());
  cpu::attention_forward(p);
  double* d = ref.dqkv.data();
  cpu::attention_backward(p, dy.data(), d, d + c.HS, d + 2 * c.HS);
  return ref;
}

}  // namespace alibi::test
