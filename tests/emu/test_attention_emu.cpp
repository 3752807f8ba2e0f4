// The CUDA attention kernels (kernels/cuda/attention.cu), run on the host by the emulator
// of tests/emu/emu.h, against the CPU reference (cpu::attention_forward / attention_backward
// in double): out, lse, dq, dk, dv and the T5 table's gradient. This is what exercises the
// kernels' arithmetic on every CI run, GPU or not; tests/gpu/test_cuda_attention.cpp runs
// the same comparison on a GPU (with the hardware's scheduling, memory model and mma).
//
// Cases: every position method, both paths (tensor cores at HS = 32, 64, 128; the exact
// fp32 kernels at those and HS = 48), T not a multiple of any tile (45, 77, 129: partial
// query and key tiles, rows whose first key tile is masked), B = 2, and a tensor-parallel
// shard (local heads [2, 5) of 12: ALiBi slopes from the global head index). cp.async copies
// land early (at issue) or late (at the wait): the tensor-core cases use both. The
// emulator runs a CUDA thread as a fiber (about a microsecond per warp collective), so the
// sizes are small: the whole suite takes about 40 s on one core.
//
// Tolerances, relative to the largest |reference| value of each array, those of the GPU test
// (see tests/gpu/test_cuda_attention.cpp for their derivation):
//   exact fp32 kernels: max error 1e-4 (fp32 rounding in other summation orders; the T5
//   gradient sums up to B T^2 / 2 terms in fp32).
//   tensor cores: max error 2e-2, mean error 4e-3 (q, k, v, dO, P, dS rounded to bf16).
//   The emulator rounds as the tensor cores do, so it errs about as the GPU does (at most
//   5e-3 max, 7e-4 mean on these cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/compare.h"
#include "tests/emu/emulated_attention.h"

namespace alibi {
namespace {

using test::expect_close_relative_to_max;

using cuda_emu::CpAsync;

struct Case {
  int T, HS;
  PositionBias bias;
  MatmulPrecision precision;
  CpAsync cp_async = CpAsync::late;  // only the tensor-core kernels use cp.async
  int B = 2, NH = 3;
  int head_offset = 2;     // a shard: local heads [2, 2 + NH) ...
  int n_heads_total = 12;  // ... of 12 (not a power of two: both halves of the slope recipe)
};

bool tensor_cores(const Case& c) {
  return c.precision != MatmulPrecision::fp32 && (c.HS == 32 || c.HS == 64 || c.HS == 128);
}

std::string describe(const Case& c) {
  std::ostringstream os;
  os << position_bias_name(c.bias) << "_" << (c.precision == MatmulPrecision::fp32 ? "fp32" : "bf16") << "_T" << c.T << "_HS"
     << c.HS;
  if (tensor_cores(c))
    os << (c.cp_async == CpAsync::late ? "_late" : "_early");
  else if (c.precision != MatmulPrecision::fp32)
    os << "_exact";
  return os.str();
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Params over a fused qkv (B, T, NH, 3, HS), as the model passes them.
template <class Real>
AttentionParams<Real> params(const Case& c, const Real* qkv, Real* out, Real* lse, const Real* table, Real* dtable) {
  AttentionParams<Real> p = fused_qkv_params(qkv, out, lse, c.B, c.T, c.NH, c.HS);
  p.head_offset = c.head_offset;
  p.n_heads_total = c.n_heads_total;
  p.bias = c.bias;
  p.t5_table = table;
  p.t5_table_grad = dtable;
  p.precision = c.precision;
  return p;
}

// Part `part` (0 q, 1 k, 2 v) of a fused (B, T, NH, 3, HS) gradient.
template <class Real>
std::vector<Real> part_of(const std::vector<Real>& dqkv, int part, int HS) {
  std::vector<Real> r;
  r.reserve(dqkv.size() / 3);
  for (size_t i = 0; i < dqkv.size(); ++i)
    if (static_cast<int>(i / HS % 3) == part) r.push_back(dqkv[i]);
  return r;
}

void check_case(const Case& c) {
  const size_t n_qkv = (size_t)c.B * c.T * c.NH * 3 * c.HS, n_out = (size_t)c.B * c.T * c.NH * c.HS;
  const size_t n_lse = (size_t)c.B * c.NH * c.T, n_table = (size_t)32 * c.NH;
  // Scores of unit scale (q, k of variance 1), so the softmax is neither flat nor one-hot.
  const std::vector<float> qkv = uniform(n_qkv, 1, -1.7f, 1.7f), dout = uniform(n_out, 2, -1.0f, 1.0f);
  const std::vector<float> table = uniform(n_table, 3, -1.0f, 1.0f), dtable0 = uniform(n_table, 4, -0.5f, 0.5f);

  // The reference, in double. The T5 gradient starts nonzero: the kernels must add to it.
  std::vector<double> x(qkv.begin(), qkv.end()), dy(dout.begin(), dout.end()), tab(table.begin(), table.end());
  std::vector<double> ref_out(n_out), ref_lse(n_lse), ref_dqkv(n_qkv), ref_dtable(dtable0.begin(), dtable0.end());
  {
    const AttentionParams<double> p =
        params<double>(c, x.data(), ref_out.data(), ref_lse.data(), tab.data(), ref_dtable.data());
    cpu::attention_forward(p);
    double* d = ref_dqkv.data();
    cpu::attention_backward(p, dy.data(), d, d + c.HS, d + 2 * c.HS);
  }

  // The emulated kernels. Outputs start as NaN, so an element never written fails.
  const float nan = std::nanf("");
  std::vector<float> out(n_out, nan), lse(n_lse, nan), dqkv(n_qkv, nan), dtable = dtable0;
  cuda_emu::set_cp_async_landing(c.cp_async);
  const AttentionParams<float> p = params<float>(c, qkv.data(), out.data(), lse.data(), table.data(), dtable.data());
  cuda_emu::attention_forward(p);
  float* d = dqkv.data();
  cuda_emu::attention_backward(p, dout.data(), d, d + c.HS, d + 2 * c.HS);

  const bool bf16 = tensor_cores(c);
  const double max_rel = bf16 ? 2e-2 : 1e-4, mean_rel = bf16 ? 4e-3 : 0.0;
  expect_close_relative_to_max("out", out, ref_out, max_rel, mean_rel);
  expect_close_relative_to_max("lse", lse, ref_lse, max_rel, mean_rel);
  for (int part = 0; part < 3; ++part)
    expect_close_relative_to_max(std::string("d") + "qkv"[part], part_of(dqkv, part, c.HS),
                                 part_of(ref_dqkv, part, c.HS), max_rel, mean_rel);
  if (c.bias == PositionBias::t5) expect_close_relative_to_max("t5_table_grad", dtable, ref_dtable, max_rel, mean_rel);
  if (bf16) {
    // The bf16 operands must show in the output (some 1e-3 of error): had the exact kernels
    // run instead, the tensor-core ones would go untested.
    EXPECT_GT(test::relative_to_max("out", out, ref_out).max, 1e-5) << "the tensor-core kernels did not run";
  }
}

// One test per (position method, path), each a few sizes: few processes (MPI_Init costs
// half a second each), enough for ctest -j to spread.
struct Group {
  PositionBias bias;
  MatmulPrecision precision;
};

std::vector<Case> cases_of(const Group& g) {
  std::vector<Case> all;
  if (g.precision == MatmulPrecision::bf16) {
    // T = 77: one or two query tiles, a partial key tile; T = 129: one row past a multiple
    // of every tile, several key tiles, T5 distances past max_distance (128).
    for (int HS : {32, 64, 128}) all.push_back({77, HS, g.bias, g.precision, CpAsync::late});
    for (int HS : {64, 128}) all.push_back({129, HS, g.bias, g.precision, CpAsync::early});
    if (g.bias == PositionBias::alibi) all.push_back({77, 48, g.bias, g.precision});  // no tensor-core kernel
  } else {
    // 32-row tiles; the exact kernels cost the emulator four times the tensor-core ones.
    for (int HS : {32, 48, 64, 128}) all.push_back({45, HS, g.bias, g.precision});
  }
  return all;
}

class EmulatedAttention : public ::testing::TestWithParam<Group> {};

TEST_P(EmulatedAttention, MatchesCpuReference) {
  for (const Case& c : cases_of(GetParam())) {
    SCOPED_TRACE(describe(c));
    check_case(c);
  }
}

std::vector<Group> groups() {
  std::vector<Group> all;
  for (PositionBias bias : {PositionBias::none, PositionBias::alibi, PositionBias::rotary, PositionBias::t5})
    for (MatmulPrecision precision : {MatmulPrecision::bf16, MatmulPrecision::fp32}) all.push_back({bias, precision});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedAttention, ::testing::ValuesIn(groups()),
                         [](const ::testing::TestParamInfo<Group>& info) {
                           return std::string(position_bias_name(info.param.bias)) + "_" +
                                  (info.param.precision == MatmulPrecision::fp32 ? "fp32" : "bf16");
                         });

}  // namespace
}  // namespace alibi
