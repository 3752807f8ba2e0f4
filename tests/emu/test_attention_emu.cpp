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
// Reuse: the backward given the forward's prepared operands (AttentionParams::prepared) must
// give the gradients of the backward that prepares its own, bit for bit, without reading
// the fp32 q, k, v.
//
// Tolerances: those of the GPU test (tests/attention_case.h, with their derivation). The
// emulator rounds as the tensor cores do, so it errs about as the GPU does (at most 5e-3
// max, 7e-4 mean on these cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/attention_case.h"
#include "tests/compare.h"
#include "tests/emu/emulated_attention.h"

namespace alibi {
namespace {

using test::AttentionCase;
using test::expect_close_relative_to_max;

using cuda_emu::CpAsync;

struct Case {
  AttentionCase shape;  // B = 2, NH = 3: local heads [2, 5) of 12
  CpAsync cp_async = CpAsync::late;  // only the tensor-core kernels use cp.async
};

std::string describe(const Case& c) {
  const AttentionCase& s = c.shape;
  std::ostringstream os;
  os << position_bias_name(s.bias) << "_" << (s.precision == MatmulPrecision::fp32 ? "fp32" : "bf16") << "_T" << s.T
     << "_HS" << s.HS;
  if (s.tensor_cores())
    os << (c.cp_async == CpAsync::late ? "_late" : "_early");
  else if (s.precision != MatmulPrecision::fp32)
    os << "_exact";
  return os.str();
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
  const AttentionCase& s = c.shape;
  const test::AttentionInputs in = test::attention_inputs(s);
  const test::AttentionResults ref = test::cpu_attention_reference(s, in);

  // The emulated kernels. Outputs start as NaN, so an element never written fails.
  std::vector<float> out = test::nans(s.out_size()), lse = test::nans(s.lse_size()), dqkv = test::nans(s.qkv_size()),
                     dtable = in.dtable0;
  cuda_emu::set_cp_async_landing(c.cp_async);
  const AttentionParams<float> p =
      test::attention_params<float>(s, in.qkv.data(), out.data(), lse.data(), in.table.data(), dtable.data());
  cuda_emu::attention_forward(p);
  float* d = dqkv.data();
  cuda_emu::attention_backward(p, in.dout.data(), d, d + s.HS, d + 2 * s.HS);

  const double max_rel = s.max_rel(), mean_rel = s.mean_rel();
  expect_close_relative_to_max("out", out, ref.out, max_rel, mean_rel);
  expect_close_relative_to_max("lse", lse, ref.lse, max_rel, mean_rel);
  for (int part = 0; part < 3; ++part)
    expect_close_relative_to_max(std::string("d") + "qkv"[part], part_of(dqkv, part, s.HS),
                                 part_of(ref.dqkv, part, s.HS), max_rel, mean_rel);
  if (s.bias == PositionBias::t5) expect_close_relative_to_max("t5_table_grad", dtable, ref.dtable, max_rel, mean_rel);
  if (s.tensor_cores()) {
    // The bf16 operands must show in the output (some 1e-3 of error): had the exact kernels
    // run instead, the tensor-core ones would go untested.
    EXPECT_GT(test::relative_to_max("out", out, ref.out).max, 1e-5) << "the tensor-core kernels did not run";
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
  auto add = [&](int T, int HS, CpAsync cp_async = CpAsync::late) {
    all.push_back({AttentionCase{2, T, 3, HS, g.bias, g.precision}, cp_async});
  };
  if (g.precision == MatmulPrecision::bf16) {
    // T = 77: one or two query tiles, a partial key tile; T = 129: one row past a multiple
    // of every tile, several key tiles, T5 distances past max_distance (128). T = 157 at
    // HS = 32, where the dk/dv kernel's warps own two m16 tiles of keys (128-key tiles): a
    // second key tile whose first warp's 32 keys end 13 rows into its second m16 tile.
    for (int HS : {32, 64, 128}) add(77, HS, CpAsync::late);
    for (int HS : {64, 128}) add(129, HS, CpAsync::early);
    add(157, 32, CpAsync::early);
    if (g.bias == PositionBias::alibi) add(77, 48);  // no tensor-core kernel
  } else {
    // 32-row tiles; the exact kernels cost the emulator four times the tensor-core ones.
    for (int HS : {32, 48, 64, 128}) add(45, HS);
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

// ---- the backward on the forward's prepared operands ----------------------------------------

// got and want hold the same bits (NaN included), else the first element that differs.
void expect_same_bits(const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", want " << want[i] << " bit for bit";
      return;
    }
  }
}

// Forward and backward with a prepared array against both without one: out and lse, and
// dq, dk, dv bit for bit, with the backward's fp32 q, k, v poisoned (NaN, or null pointers
// where `drop_qkv`): it must read the forward's bf16 copies, not prepare them again.
void check_reuse(const AttentionCase& s, bool drop_qkv) {
  const test::AttentionInputs in = test::attention_inputs(s);
  cuda_emu::set_cp_async_landing(CpAsync::late);

  std::vector<float> out0 = test::nans(s.out_size()), lse0 = test::nans(s.lse_size()),
                     dqkv0 = test::nans(s.qkv_size()), dtable0 = in.dtable0;
  const AttentionParams<float> p0 =
      test::attention_params<float>(s, in.qkv.data(), out0.data(), lse0.data(), in.table.data(), dtable0.data());
  cuda_emu::attention_forward(p0);
  float* d0 = dqkv0.data();
  cuda_emu::attention_backward(p0, in.dout.data(), d0, d0 + s.HS, d0 + 2 * s.HS);

  std::vector<float> qkv = in.qkv, out = test::nans(s.out_size()), lse = test::nans(s.lse_size()),
                     dqkv = test::nans(s.qkv_size()), dtable = in.dtable0;
  AttentionParams<float> p =
      test::attention_params<float>(s, qkv.data(), out.data(), lse.data(), in.table.data(), dtable.data());
  const int64_t n = cuda_emu::attention_prepared_elements(p);
  ASSERT_EQ(n, 3 * (int64_t)s.B * s.NH * s.T * s.HS);
  std::vector<uint16_t> prepared(n, 0xffff);  // bf16 NaN until the forward writes it
  p.prepared = prepared.data();
  cuda_emu::attention_forward(p);
  expect_same_bits("out", out, out0);
  expect_same_bits("lse", lse, lse0);

  std::fill(qkv.begin(), qkv.end(), std::nanf(""));  // in place: p.q, p.k, p.v point there
  if (drop_qkv) p.q = p.k = p.v = nullptr;
  float* d = dqkv.data();
  cuda_emu::attention_backward(p, in.dout.data(), d, d + s.HS, d + 2 * s.HS);
  for (int part = 0; part < 3; ++part)
    expect_same_bits(std::string("d") + "qkv"[part], part_of(dqkv, part, s.HS), part_of(dqkv0, part, s.HS));
  // The T5 table's gradient is summed with atomics (attention.cu): compared, not bit for bit.
  // The bound is fp32 rounding of those sums in another order.
  if (s.bias == PositionBias::t5) expect_close_relative_to_max("t5_table_grad", dtable, dtable0, 1e-5, 0.0);
}

// Rotary is where the prepared copy differs most from qkv (q and k turned); ALiBi and T5 take
// the kernels' two bias classes. The null q, k, v come last, so that a backward that reads
// them fails the NaN cases before it crashes.
TEST(EmulatedAttentionReuse, BackwardReadsTheForwardsPreparedOperands) {
  struct Reuse {
    PositionBias bias;
    int HS;
    bool drop_qkv;
  };
  for (const Reuse& r : {Reuse{PositionBias::alibi, 64, false}, Reuse{PositionBias::alibi, 128, false},
                         Reuse{PositionBias::rotary, 64, false}, Reuse{PositionBias::rotary, 128, false},
                         Reuse{PositionBias::t5, 64, false}, Reuse{PositionBias::rotary, 32, true}}) {
    const AttentionCase s{2, 77, 3, r.HS, r.bias, MatmulPrecision::bf16};
    SCOPED_TRACE(describe({s}) + (r.drop_qkv ? "_null_qkv" : "_nan_qkv"));
    check_reuse(s, r.drop_qkv);
  }
}

// The kernels keep prepared operands on the tensor cores only: the exact kernels (fp32, or a
// head size without tensor-core kernels) have none to keep, and must leave the array alone.
TEST(EmulatedAttentionReuse, ExactKernelsKeepNone) {
  for (const AttentionCase& s : {AttentionCase{1, 45, 3, 64, PositionBias::alibi, MatmulPrecision::fp32},
                                 AttentionCase{1, 45, 3, 48, PositionBias::rotary, MatmulPrecision::bf16}}) {
    SCOPED_TRACE(describe({s}));
    const test::AttentionInputs in = test::attention_inputs(s);
    std::vector<float> out = test::nans(s.out_size()), lse = test::nans(s.lse_size()), dtable = in.dtable0;
    AttentionParams<float> p =
        test::attention_params<float>(s, in.qkv.data(), out.data(), lse.data(), in.table.data(), dtable.data());
    EXPECT_EQ(cuda_emu::attention_prepared_elements(p), 0);
    std::vector<uint16_t> prepared(3 * s.out_size(), 0x1234);
    p.prepared = prepared.data();
    cuda_emu::attention_forward(p);
    EXPECT_EQ(prepared, std::vector<uint16_t>(3 * s.out_size(), 0x1234));
  }
}

}  // namespace
}  // namespace alibi
