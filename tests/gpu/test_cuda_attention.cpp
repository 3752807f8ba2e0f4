// The CUDA attention kernels (kernels/cuda/attention.cu) against the CPU reference
// (cpu::attention_forward / attention_backward in double) on fresh random inputs: out, lse,
// dq, dk, dv and the T5 table's gradient, for every position method, the tensor-core head
// sizes and an odd one, a T that is no multiple of any tile, and a tensor-parallel shard
// (heads [2, 5) of 12, so the ALiBi slopes must come from the global head index). Also:
// the forward and backward allocate nothing of T x T size.
//
// Tolerances, relative to the largest |reference| value of each checked array:
//   fp32 mode (MatmulPrecision::fp32, exact SIMT kernels): max error 1e-4. The GPU differs
//   from the double reference by fp32 rounding in other summation orders (1e-6 relative
//   per dot product); the margin covers the T5 gradient, a sum of up to B T^2 / 2 terms
//   of both signs accumulated in fp32.
//   bf16 mode (tensor cores): max error 2e-2, mean error 4e-3, the T5 gradient included.
//   q, k, v, dO and the weights P, dS are rounded to bf16, 8 significant bits: 2^-9
//   relative per element, which an HS-term dot product turns into about 2^-9 sqrt(HS) of
//   its typical size, and the softmax's exp passes on as an absolute error of the scores.
//   (A host emulation of these kernels, rounding as the tensor cores do, errs by at most
//   6e-3 max and 7e-4 mean on these cases: the bounds leave a factor of 3 to 5.)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#include "tests/compare.h"
#include "tests/gpu/gpu_test.h"

namespace alibi {
namespace {

using test::expect_close_relative_to_max;

#ifdef ALIBI_WITH_CUDA

struct Case {
  int B, T, NH, HS;
  PositionBias bias;
  MatmulPrecision precision;
  int head_offset = 2;     // a shard: local heads [2, 2 + NH) ...
  int n_heads_total = 12;  // ... of 12 (not a power of two: both halves of the slope recipe)
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << position_bias_name(c.bias) << "_" << (c.precision == MatmulPrecision::fp32 ? "fp32" : "bf16") << "_B" << c.B << "_T"
     << c.T << "_NH" << c.NH << "_HS" << c.HS;
  return os.str();
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Device buffers from and to host vectors.
Tensor upload(const std::vector<float>& v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::f32, Device::cuda);
  copy_bytes(t.raw(), Device::cuda, v.data(), Device::cpu, v.size() * sizeof(float));
  return t;
}
std::vector<float> download(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  copy_bytes(v.data(), Device::cpu, t.raw(), Device::cuda, v.size() * sizeof(float));
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

struct Results {
  std::vector<double> out, lse, dqkv, dtable;
};

void check_case(const Case& c) {
  SCOPED_TRACE(describe(c));
  const size_t n_qkv = (size_t)c.B * c.T * c.NH * 3 * c.HS, n_out = (size_t)c.B * c.T * c.NH * c.HS;
  const size_t n_lse = (size_t)c.B * c.NH * c.T, n_table = (size_t)32 * c.NH;
  // Scores of unit scale (q, k of variance 1), so the softmax is neither flat nor one-hot.
  const std::vector<float> qkv = uniform(n_qkv, 1, -1.7f, 1.7f), dout = uniform(n_out, 2, -1.0f, 1.0f);
  const std::vector<float> table = uniform(n_table, 3, -1.0f, 1.0f), dtable0 = uniform(n_table, 4, -0.5f, 0.5f);

  // The reference, in double.
  Results ref;
  {
    std::vector<double> x(qkv.begin(), qkv.end()), dy(dout.begin(), dout.end()), tab(table.begin(), table.end());
    ref.out.assign(n_out, 0.0);
    ref.lse.assign(n_lse, 0.0);
    ref.dqkv.assign(n_qkv, 0.0);
    ref.dtable.assign(dtable0.begin(), dtable0.end());
    const AttentionParams<double> p =
        params<double>(c, x.data(), ref.out.data(), ref.lse.data(), tab.data(), ref.dtable.data());
    cpu::attention_forward(p);
    double* d = ref.dqkv.data();
    cpu::attention_backward(p, dy.data(), d, d + c.HS, d + 2 * c.HS);
  }

  // The GPU. Outputs start as NaN, so an element never written fails the comparison.
  const float nan = std::nanf("");
  Tensor g_qkv = upload(qkv), g_dout = upload(dout), g_table = upload(table), g_dtable = upload(dtable0);
  Tensor g_out = upload(std::vector<float>(n_out, nan)), g_lse = upload(std::vector<float>(n_lse, nan));
  Tensor g_dqkv = upload(std::vector<float>(n_qkv, nan));
  const AttentionParams<float> p = params<float>(c, g_qkv.data<float>(), g_out.data<float>(), g_lse.data<float>(),
                                                 g_table.data<float>(), g_dtable.data<float>());
  cuda::attention_forward(p);
  float* d = g_dqkv.data<float>();
  cuda::attention_backward(p, g_dout.data<float>(), d, d + c.HS, d + 2 * c.HS);
  cuda_synchronize();

  // Head sizes without a tensor-core kernel run the exact one in either mode.
  const bool exact = c.precision == MatmulPrecision::fp32 || !(c.HS == 32 || c.HS == 64 || c.HS == 128);
  const double max_rel = exact ? 1e-4 : 2e-2, mean_rel = exact ? 0.0 : 4e-3;
  expect_close_relative_to_max("out", download(g_out), ref.out, max_rel, mean_rel);
  expect_close_relative_to_max("lse", download(g_lse), ref.lse, max_rel, mean_rel);
  expect_close_relative_to_max("dqkv", download(g_dqkv), ref.dqkv, max_rel, mean_rel);
  if (c.bias == PositionBias::t5)
    expect_close_relative_to_max("t5_table_grad", download(g_dtable), ref.dtable, max_rel, mean_rel);
}

class CudaAttention : public ::testing::TestWithParam<Case> {};

TEST_P(CudaAttention, MatchesCpuReference) {
  ALIBI_REQUIRE_GPU();
  check_case(GetParam());
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (PositionBias bias : {PositionBias::none, PositionBias::alibi, PositionBias::rotary, PositionBias::t5}) {
    for (MatmulPrecision precision : {MatmulPrecision::fp32, MatmulPrecision::bf16}) {
      // T = 77: one query tile, a partial key tile; T = 300: several of each, T5 distances
      // past max_distance (128), and rows whose first key tile is entirely masked.
      for (int T : {77, 300})
        for (int HS : {64, 128}) all.push_back({2, T, 3, HS, bias, precision});
      all.push_back({2, 77, 3, 32, bias, precision});  // the third tensor-core head size
      all.push_back({2, 77, 3, 48, bias, precision});  // no tensor-core kernel: the exact one
    }
    all.push_back({1, 1, 1, 64, bias, MatmulPrecision::bf16, 0, 1});  // one token
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaAttention, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return describe(info.param); });

// At T = 4096 a T x T float matrix would be 64 MB; the largest block either pass allocates
// (its operand copies, O(T HS)) must stay below that.
TEST(CudaAttention, AllocatesNoTxTBuffer) {
  ALIBI_REQUIRE_GPU();
  const Case c{1, 4096, 2, 64, PositionBias::alibi, MatmulPrecision::bf16, 0, 2};
  const size_t n_qkv = (size_t)c.B * c.T * c.NH * 3 * c.HS, n_out = (size_t)c.B * c.T * c.NH * c.HS;
  Tensor qkv = upload(uniform(n_qkv, 5, -1.7f, 1.7f)), dout = upload(uniform(n_out, 6, -1.0f, 1.0f));
  Tensor out = Tensor::empty({(int64_t)n_out}, DType::f32, Device::cuda);
  Tensor lse = Tensor::empty({(int64_t)c.B * c.NH * c.T}, DType::f32, Device::cuda);
  Tensor dqkv = Tensor::empty({(int64_t)n_qkv}, DType::f32, Device::cuda);
  const AttentionParams<float> p =
      params<float>(c, qkv.data<float>(), out.data<float>(), lse.data<float>(), nullptr, nullptr);
  const size_t txt = (size_t)c.T * c.T * sizeof(float);

  cuda_synchronize();
  cuda_reset_peak();
  cuda::attention_forward(p);
  cuda_synchronize();
  EXPECT_LT(cuda_allocator_stats().largest_block, txt) << "forward allocated a block of T x T size";

  cuda_reset_peak();
  float* d = dqkv.data<float>();
  cuda::attention_backward(p, dout.data<float>(), d, d + c.HS, d + 2 * c.HS);
  cuda_synchronize();
  EXPECT_LT(cuda_allocator_stats().largest_block, txt) << "backward allocated a block of T x T size";
}

#endif  // ALIBI_WITH_CUDA

}  // namespace
}  // namespace alibi
