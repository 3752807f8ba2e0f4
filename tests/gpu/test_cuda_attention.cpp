// The CUDA attention kernels (kernels/cuda/attention.cu) against the CPU reference
// (cpu::attention_forward / attention_backward in double) on fresh random inputs: out, lse,
// dq, dk, dv and the T5 table's gradient, for every position method, the tensor-core head
// sizes and an odd one, a T that is no multiple of any tile, and a tensor-parallel shard
// (heads [2, 5) of 12, so the ALiBi slopes must come from the global head index). Also:
// the forward and backward allocate nothing of T x T size, and the backward on the forward's
// prepared operands (AttentionParams::prepared) gives the same gradients bit for bit.
//
// Tolerances (derived in tests/attention_case.h, which the emulator test shares): max
// error 1e-4 of the largest |reference| value for the exact fp32 kernels; 2e-2 max and
// 4e-3 mean for the bf16 tensor cores.
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#include "tests/attention_case.h"
#include "tests/compare.h"
#include "tests/gpu/gpu_test.h"

namespace alibi {
namespace {

using test::AttentionCase;
using test::download;
using test::upload;
using test::expect_close_relative_to_max;

#ifdef ALIBI_WITH_CUDA

std::string describe(const AttentionCase& c) {
  std::ostringstream os;
  os << position_bias_name(c.bias) << "_" << (c.precision == MatmulPrecision::fp32 ? "fp32" : "bf16") << "_B" << c.B << "_T"
     << c.T << "_NH" << c.NH << "_HS" << c.HS;
  return os.str();
}

void check_case(const AttentionCase& c) {
  SCOPED_TRACE(describe(c));
  const test::AttentionInputs in = test::attention_inputs(c);
  const test::AttentionResults ref = test::cpu_attention_reference(c, in);

  // The GPU. Outputs start as NaN, so an element never written fails the comparison.
  Tensor g_qkv = upload(in.qkv), g_dout = upload(in.dout), g_table = upload(in.table), g_dtable = upload(in.dtable0);
  Tensor g_out = upload(test::nans(c.out_size())), g_lse = upload(test::nans(c.lse_size()));
  Tensor g_dqkv = upload(test::nans(c.qkv_size()));
  const AttentionParams<float> p = test::attention_params<float>(
      c, g_qkv.data<float>(), g_out.data<float>(), g_lse.data<float>(), g_table.data<float>(), g_dtable.data<float>());
  cuda::attention_forward(p);
  float* d = g_dqkv.data<float>();
  cuda::attention_backward(p, g_dout.data<float>(), d, d + c.HS, d + 2 * c.HS);
  cuda_synchronize();

  const double max_rel = c.max_rel(), mean_rel = c.mean_rel();
  expect_close_relative_to_max("out", download(g_out), ref.out, max_rel, mean_rel);
  expect_close_relative_to_max("lse", download(g_lse), ref.lse, max_rel, mean_rel);
  expect_close_relative_to_max("dqkv", download(g_dqkv), ref.dqkv, max_rel, mean_rel);
  if (c.bias == PositionBias::t5)
    expect_close_relative_to_max("t5_table_grad", download(g_dtable), ref.dtable, max_rel, mean_rel);
}

class CudaAttention : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(CudaAttention, MatchesCpuReference) {
  ALIBI_REQUIRE_GPU();
  check_case(GetParam());
}

std::vector<AttentionCase> cases() {
  std::vector<AttentionCase> all;
  for (PositionBias bias : {PositionBias::none, PositionBias::alibi, PositionBias::rotary, PositionBias::t5}) {
    for (MatmulPrecision precision : {MatmulPrecision::fp32, MatmulPrecision::bf16}) {
      // T = 77: one query tile, a partial key tile; T = 300: several of each, T5 distances
      // past max_distance (128), and rows whose first key tile is entirely masked (at
      // HS = 32 too, where the dk/dv kernel's key tiles are 128 rows).
      for (int T : {77, 300})
        for (int HS : {32, 64, 128}) all.push_back({2, T, 3, HS, bias, precision});
      all.push_back({2, 77, 3, 48, bias, precision});  // no tensor-core kernel: the exact one
    }
    all.push_back({1, 1, 1, 64, bias, MatmulPrecision::bf16, 0, 1});  // one token
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaAttention, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<AttentionCase>& info) { return describe(info.param); });

// At T = 4096 a T x T float matrix would be 64 MB; the largest block either pass allocates
// (its operand copies, O(T HS)) must stay below that.
TEST(CudaAttention, AllocatesNoTxTBuffer) {
  ALIBI_REQUIRE_GPU();
  const AttentionCase c{1, 4096, 2, 64, PositionBias::alibi, MatmulPrecision::bf16, 0, 2};
  const int64_t n_qkv = c.qkv_size(), n_out = c.out_size();
  Tensor qkv = upload(test::uniform(n_qkv, 5, -1.7f, 1.7f)), dout = upload(test::uniform(n_out, 6, -1.0f, 1.0f));
  Tensor out = Tensor::empty({n_out}, DType::f32, Device::cuda);
  Tensor lse = Tensor::empty({static_cast<int64_t>(c.lse_size())}, DType::f32, Device::cuda);
  Tensor dqkv = Tensor::empty({n_qkv}, DType::f32, Device::cuda);
  const AttentionParams<float> p =
      test::attention_params<float>(c, qkv.data<float>(), out.data<float>(), lse.data<float>(), nullptr, nullptr);
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

// The backward given the forward's prepared bf16 q, k, v, with the fp32 qkv overwritten by
// NaN, against forward and backward without them: dq, dk, dv the same bits (the emulator
// test's check, tests/emu/test_attention_emu.cpp, on the hardware).
TEST(CudaAttention, BackwardReusesThePreparedOperands) {
  ALIBI_REQUIRE_GPU();
  for (PositionBias bias : {PositionBias::alibi, PositionBias::rotary, PositionBias::t5}) {
    const AttentionCase c{2, 300, 3, 64, bias, MatmulPrecision::bf16};
    SCOPED_TRACE(describe(c));
    const test::AttentionInputs in = test::attention_inputs(c);
    Tensor qkv = upload(in.qkv), dout = upload(in.dout), table = upload(in.table);
    Tensor dtable = upload(in.dtable0), dtable_reused = upload(in.dtable0);
    Tensor out = upload(test::nans(c.out_size())), lse = upload(test::nans(c.lse_size()));
    Tensor dqkv = upload(test::nans(c.qkv_size())), dqkv_reused = upload(test::nans(c.qkv_size()));
    AttentionParams<float> p = test::attention_params<float>(c, qkv.data<float>(), out.data<float>(),
                                                             lse.data<float>(), table.data<float>(),
                                                             dtable.data<float>());
    cuda::attention_forward(p);
    float* d = dqkv.data<float>();
    cuda::attention_backward(p, dout.data<float>(), d, d + c.HS, d + 2 * c.HS);

    Tensor prepared = Tensor::empty({cuda::attention_prepared_elements(p)}, DType::u16, Device::cuda);
    p.prepared = prepared.data<uint16_t>();
    p.t5_table_grad = dtable_reused.data<float>();
    cuda::attention_forward(p);
    cuda_synchronize();  // the forward has read qkv before it is overwritten
    qkv.copy_from(upload(test::nans(c.qkv_size())));
    d = dqkv_reused.data<float>();
    cuda::attention_backward(p, dout.data<float>(), d, d + c.HS, d + 2 * c.HS);
    cuda_synchronize();
    const std::vector<float> want = download(dqkv), got = download(dqkv_reused);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << "dq, dk, dv differ from the backward that prepares its own operands";
    // The T5 table's gradient is summed with atomics: compared, not bit for bit (fp32
    // rounding of those sums in another order).
    if (bias == PositionBias::t5)
      expect_close_relative_to_max("t5_table_grad", download(dtable_reused), download(dtable), 1e-5, 0.0);
  }
}

#endif  // ALIBI_WITH_CUDA

}  // namespace
}  // namespace alibi
