// The CUDA kernels other than attention (kernels/cuda/rows.cu, elementwise.cu, bias_gelu.cu,
// bf16.cu and the bias kernels of matmul.cu), run on the host by the emulator of tests/emu/emu.h, against the
// CPU reference of kernels/ops.h on fresh random inputs: so every CI run, GPU or not, checks
// their arithmetic, indexing, warp and block reductions. tests/gpu/test_cuda_kernels.cpp
// runs the same comparisons on a GPU through ops:: (with the hardware's scheduling).
//
// Shapes are awkward on purpose: rows not a multiple of the warps per block (N = 45 with 8
// row lanes; several row chunks of the two-stage column sums), channels not a multiple of 32 or of 256 threads (C = 200, 300), a
// vocabulary shard [500, 1500) with targets inside, outside and negative, tokens negative
// and repeated, and reductions longer than the 256 x 256 threads of their grid. Outputs
// with an `=` contract start as NaN, so an element never written fails.
//
// Tolerances are those of the GPU test: the emulator differs from the CPU only by summation
// order (1e-5 relative to the largest reference value; 1e-6 for per-element formulas; 0 for
// copies and the max).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/ops.h"
#include "tests/compare.h"
#include "tests/emu/emulated_kernels.h"
#include "tests/random_vectors.h"

namespace alibi {
namespace {

using test::expect_close_relative_to_max;
using test::nans;
using test::randn;

// ---- embedding: negative tokens (no row) and repeated ones (a CSR group of several) -----------
TEST(EmulatedKernels, Embedding) {
  const int64_t V = 50, C = 300, N = 45;  // C > 256 threads: the channel loop wraps
  std::mt19937 gen(7);
  std::vector<int32_t> tokens(N);
  for (int32_t& t : tokens) t = static_cast<int32_t>(gen() % 25) - 5;  // repeats, some negative
  tokens[0] = tokens[N - 1] = 49;  // the last row of wte, at both ends of the positions
  tokens[3] = 0;
  const auto wte = randn(V * C, 8), dy = randn(N * C, 9), dwte0 = randn(V * C, 10);
  std::vector<float> out(N * C), dwte = dwte0, eout = nans(N * C), edwte = dwte0;
  cpu::embedding_forward<float>(out.data(), tokens.data(), wte.data(), N, C);
  cpu::embedding_backward<float>(dwte.data(), dy.data(), tokens.data(), N, C);
  cuda_emu::embedding_forward(eout.data(), tokens.data(), wte.data(), N, C);
  cuda_emu::embedding_backward(edwte.data(), dy.data(), tokens.data(), N, C);
  expect_close_relative_to_max("embedding out", eout, out, 0.0);
  expect_close_relative_to_max("embedding dwte", edwte, dwte, 1e-5);
}

// ---- LayerNorm: a warp per row, 8 row lanes a block (forward, dx); dw and db in two stages
// over chunks of rows (kernels/cuda/column_sums.cuh): N = 45 is one chunk, N = 165 three of
// 55 rows (not a multiple of the 8 row lanes) --------------------------------------------------
TEST(EmulatedKernels, LayerNorm) {
  for (const int64_t N : {45, 165}) {
    SCOPED_TRACE("N = " + std::to_string(N));
    const int64_t C = 200;
    auto x = randn(N * C, 11);
    for (float& v : x) v += 3.0f;  // a mean far from 0: the two-pass variance
    const auto w = randn(C, 12), b = randn(C, 13), dy = randn(N * C, 14), dx0 = randn(N * C, 15);
    const auto dw0 = randn(C, 16), db0 = randn(C, 17);
    std::vector<float> out(N * C), mean(N), rstd(N), dx = dx0, dw = dw0, db = db0;
    cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    cpu::layernorm_backward<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(),
                                   rstd.data(), N, C);
    std::vector<float> eout = nans(N * C), emean = nans(N), erstd = nans(N), edx = dx0, edw = dw0, edb = db0;
    cuda_emu::layernorm_forward(eout.data(), emean.data(), erstd.data(), x.data(), w.data(), b.data(), N, C);
    cuda_emu::layernorm_backward(edx.data(), edw.data(), edb.data(), dy.data(), x.data(), w.data(), emean.data(),
                                 erstd.data(), N, C);
    expect_close_relative_to_max("layernorm out", eout, out, 1e-5);
    expect_close_relative_to_max("layernorm mean", emean, mean, 1e-5);
    expect_close_relative_to_max("layernorm rstd", erstd, rstd, 1e-5);
    expect_close_relative_to_max("layernorm dinp", edx, dx, 1e-5);
    expect_close_relative_to_max("layernorm dweight", edw, dw, 1e-5);
    expect_close_relative_to_max("layernorm dbias", edb, db, 1e-5);
  }
}

// ---- vocabulary-parallel cross-entropy: the shard [v0, v0 + V) of a 2000-row vocabulary ------
// The emulated kernels read rows `ld` apart (ld > V: the GPU's LM-head padding, columns
// [V, ld) filled with logits far above the real ones, so a kernel that read them would move
// the max, the sums and the losses); the CPU reference has no padding at all.
void check_vocab_cross_entropy(int64_t ld) {
  const int64_t N = 45, V = 1000, v0 = 500;
  const auto logits = randn(N * V, 24, 4.0f);
  std::vector<float> padded(N * ld, 1.0e4f);
  for (int64_t n = 0; n < N; ++n) std::copy(&logits[n * V], &logits[n * V] + V, &padded[n * ld]);
  std::mt19937 gen(25);
  std::vector<int32_t> targets(N);
  for (int32_t& t : targets) t = static_cast<int32_t>(gen() % 2100) - 100;  // some unscored, some elsewhere
  targets[0] = -1;                                                           // unscored
  targets[1] = static_cast<int32_t>(v0);                                     // the shard's first row
  targets[2] = static_cast<int32_t>(v0 + V - 1);                             // ... and its last
  targets[3] = static_cast<int32_t>(v0 - 1);                                 // just outside it
  targets[4] = static_cast<int32_t>(v0 + V);                                 // (a padding column when ld > V)
  std::vector<float> row_max(N), losses(N), dlogits(N * V);
  std::vector<double> sum_exp(N), target_logit(N);
  cpu::vocab_ce_row_max<float>(row_max.data(), logits.data(), N, V, V);
  cpu::vocab_ce_partials<float>(sum_exp.data(), target_logit.data(), logits.data(), row_max.data(), targets.data(), v0,
                                N, V, V);
  cpu::vocab_ce_losses<float>(losses.data(), sum_exp.data(), target_logit.data(), row_max.data(), targets.data(), N);
  cpu::vocab_ce_backward<float>(dlogits.data(), logits.data(), row_max.data(), sum_exp.data(), targets.data(), v0, N,
                                V, V, 0.25f);

  std::vector<float> emax = nans(N), elosses = nans(N), ed = nans(N * ld);
  std::vector<double> esum(N, std::nan("")), etl(N, std::nan(""));
  cuda_emu::vocab_ce_row_max(emax.data(), padded.data(), N, V, ld);
  cuda_emu::vocab_ce_partials(esum.data(), etl.data(), padded.data(), emax.data(), targets.data(), v0, N, V, ld);
  cuda_emu::vocab_ce_losses(elosses.data(), esum.data(), etl.data(), emax.data(), targets.data(), N);
  cuda_emu::vocab_ce_backward(ed.data(), padded.data(), emax.data(), esum.data(), targets.data(), v0, N, V, ld, 0.25f);
  std::vector<float> ed_real(N * V);
  for (int64_t n = 0; n < N; ++n) {
    std::copy(&ed[n * ld], &ed[n * ld] + V, &ed_real[n * V]);
    for (int64_t v = V; v < ld; ++v) ASSERT_EQ(ed[n * ld + v], 0.0f) << "padding gradient at row " << n << " column " << v;
  }
  expect_close_relative_to_max("row max", emax, row_max, 0.0);
  expect_close_relative_to_max("target logit", etl, target_logit, 0.0);
  expect_close_relative_to_max("losses", elosses, losses, 1e-5);
  expect_close_relative_to_max("dlogits", ed_real, dlogits, 1e-5);
  for (int64_t i = 0; i < N; ++i) EXPECT_NEAR(esum[i], sum_exp[i], 1e-5 * sum_exp[i]) << "row " << i;
}

TEST(EmulatedKernels, VocabCrossEntropy) { check_vocab_cross_entropy(1000); }
// The shard's 1000 rows rounded up to a multiple of 64, as the GPU's LM head pads them.
TEST(EmulatedKernels, VocabCrossEntropyPadded) { check_vocab_cross_entropy(1024); }

// ---- GELU, add, scale, AdamW, reductions ---------------------------------------------------------
TEST(EmulatedKernels, Elementwise) {
  const int64_t n = 70001;  // > 256 blocks x 256 threads: the reductions' grid-stride loop wraps
  const auto x = randn(n, 18, 3.0f), y = randn(n, 19), g = randn(n, 20, 0.1f);
  std::vector<float> gelu(n), dgelu(n), sum(n), scaled = x;
  cpu::gelu_forward<float>(gelu.data(), x.data(), n);
  cpu::gelu_backward<float>(dgelu.data(), x.data(), y.data(), n);
  cpu::add<float>(sum.data(), x.data(), y.data(), n);
  cpu::scale_inplace<float>(scaled.data(), n, -0.75f);
  std::vector<float> out = nans(n), escaled = x;
  cuda_emu::gelu_forward(out.data(), x.data(), n);
  expect_close_relative_to_max("gelu", out, gelu, 1e-6);
  out = nans(n);
  cuda_emu::gelu_backward(out.data(), x.data(), y.data(), n);
  expect_close_relative_to_max("gelu backward", out, dgelu, 1e-6);
  out = nans(n);
  cuda_emu::add(out.data(), x.data(), y.data(), n);
  expect_close_relative_to_max("add", out, sum, 0.0);
  cuda_emu::scale_inplace(escaled.data(), n, -0.75f);
  expect_close_relative_to_max("scale", escaled, scaled, 0.0);

  EXPECT_NEAR(cuda_emu::sum_squares(x.data(), n), cpu::sum_squares<float>(x.data(), n),
              1e-9 * cpu::sum_squares<float>(x.data(), n));
  EXPECT_NEAR(cuda_emu::sum(x.data(), n), cpu::sum<float>(x.data(), n), 1e-6 * n);
  EXPECT_NEAR(cuda_emu::sum(x.data(), 77), cpu::sum<float>(x.data(), 77), 1e-6 * 77);  // most blocks idle

  std::vector<float> p = x, m(n, 0.0f), v(n, 0.0f), ep = x, em(n, 0.0f), ev(n, 0.0f);
  for (int step = 1; step <= 3; ++step) {
    cpu::adamw_update<float>(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
    cuda_emu::adamw_update(ep.data(), g.data(), em.data(), ev.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
  }
  expect_close_relative_to_max("adamw param", ep, p, 1e-6);
  expect_close_relative_to_max("adamw m", em, m, 1e-6);
  expect_close_relative_to_max("adamw v", ev, v, 1e-6);
}

TEST(EmulatedKernels, PositionRows) {
  const int64_t B = 3, T = 17, C = 40;
  const auto x = randn(B * T * C, 21), table = randn(T * C, 22), dt0 = randn(T * C, 23);
  std::vector<float> out = x, dtable = dt0, eout = x, edtable = dt0;
  cpu::add_position_rows<float>(out.data(), table.data(), B, T, C, 2.5f);
  cpu::position_rows_backward<float>(dtable.data(), x.data(), B, T, C);
  cuda_emu::add_position_rows(eout.data(), table.data(), B, T, C, 2.5f);
  cuda_emu::position_rows_backward(edtable.data(), x.data(), B, T, C);
  expect_close_relative_to_max("position rows", eout, out, 1e-6);
  expect_close_relative_to_max("position rows backward", edtable, dtable, 1e-6);
}

// ---- the gradient norm's one reduction over many tensors: sizes that wrap the 32 x 256 threads
// of a tensor's grid row (70001, 8193), one element, none, and a small one -------------------------
TEST(EmulatedKernels, SumSquaresMany) {
  const std::vector<int64_t> sizes = {70001, 1, 0, 300, 8193};
  std::vector<std::vector<float>> tensors;
  std::vector<const float*> xs;
  double expected = 0.0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    tensors.push_back(randn(sizes[i], 40 + static_cast<uint32_t>(i), 1.0f + static_cast<float>(i)));
    xs.push_back(tensors.back().data());
    expected += cpu::sum_squares<float>(xs.back(), sizes[i]);
  }
  // Both sum floats' squares in double, in different orders: n * 2^-53 ~ 1e-11 relative at worst.
  EXPECT_NEAR(cuda_emu::sum_squares_many(xs.data(), sizes.data(), static_cast<int>(sizes.size())), expected,
              1e-10 * expected);
  EXPECT_EQ(cuda_emu::sum_squares_many(xs.data(), sizes.data(), 0), 0.0);
}

// ---- the residual add fused with LayerNorm (the block's ln2) against add, then LayerNorm --------
TEST(EmulatedKernels, AddLayerNorm) {
  const int64_t N = 45, C = 300;  // rows not a multiple of 8 warps; C > 256 (the lane loop wraps)
  auto a = randn(N * C, 30);
  for (float& v : a) v += 3.0f;
  const auto b = randn(N * C, 31), w = randn(C, 32), bias = randn(C, 33);
  std::vector<float> residual(N * C), out(N * C), mean(N), rstd(N);
  cpu::add<float>(residual.data(), a.data(), b.data(), N * C);
  cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), residual.data(), w.data(), bias.data(), N, C);
  std::vector<float> eresidual = nans(N * C), eout = nans(N * C), emean = nans(N), erstd = nans(N);
  cuda_emu::add_layernorm_forward(eresidual.data(), eout.data(), emean.data(), erstd.data(), a.data(), b.data(),
                                  w.data(), bias.data(), N, C);
  expect_close_relative_to_max("residual", eresidual, residual, 0.0);  // one float addition each
  expect_close_relative_to_max("layernorm out", eout, out, 1e-5);
  expect_close_relative_to_max("layernorm mean", emean, mean, 1e-5);
  expect_close_relative_to_max("layernorm rstd", erstd, rstd, 1e-5);
}

// ---- the bias kernels of linear_forward / linear_backward (the GEMMs are cuBLAS); dbias in two
// stages over chunks of rows: N = 77 is two chunks of 39 rows, N = 301 five of 61 ------------------
TEST(EmulatedKernels, LinearBias) {
  for (const int64_t N : {77, 301}) {
    SCOPED_TRACE("N = " + std::to_string(N));
    const int64_t OC = 130, IC = 3;  // OC not a multiple of 32 columns, N of 8 row lanes
    const auto out0 = randn(N * OC, 1), b = randn(OC, 3), dy = randn(N * OC, 4), db0 = randn(OC, 6);
    const auto x = randn(N * IC, 5);
    std::vector<float> out = out0, eout = out0, db = db0, edb = db0, dw(OC * IC, 0.0f), w(OC * IC, 0.0f);
    cpu::add_bias<float>(out.data(), b.data(), N, OC);
    cpu::linear_backward<float>(nullptr, dw.data(), db.data(), dy.data(), x.data(), w.data(), N, IC, OC);
    cuda_emu::add_bias(eout.data(), b.data(), N, OC);
    cuda_emu::bias_grad(edb.data(), dy.data(), N, OC);
    expect_close_relative_to_max("add_bias", eout, out, 0.0);
    expect_close_relative_to_max("linear dbias", edb, db, 1e-5);
  }
}

// ---- the MLP's bias + GELU and GELU derivative + bias gradient, fused (kernels/cuda/bias_gelu.cu),
// against the CPU's separate steps: add_bias, gelu_forward; gelu_backward, linear_backward's dbias.
// dpre aliases dout, as the MLP calls it. N = 301 is five chunks of the two-stage column sums.
TEST(EmulatedKernels, BiasGelu) {
  const int64_t N = 301, F = 130;  // F not a multiple of 32 columns, N of 8 row lanes
  const auto pre0 = randn(N * F, 41, 2.0f), b = randn(F, 42), dy = randn(N * F, 43), db0 = randn(F, 44);
  std::vector<float> pre = pre0, gelu(N * F), dpre(N * F), db = db0, dw(F, 0.0f), x(N, 0.0f), w(F, 0.0f);
  cpu::add_bias<float>(pre.data(), b.data(), N, F);
  cpu::gelu_forward<float>(gelu.data(), pre.data(), N * F);
  cpu::gelu_backward<float>(dpre.data(), pre.data(), dy.data(), N * F);
  cpu::linear_backward<float>(nullptr, dw.data(), db.data(), dpre.data(), x.data(), w.data(), N, 1, F);

  std::vector<float> epre = pre0, egelu = nans(N * F), ed = dy, edb = db0;
  cuda_emu::bias_gelu_forward(epre.data(), egelu.data(), b.data(), N, F);
  cuda_emu::gelu_bias_backward(ed.data(), edb.data(), epre.data(), ed.data(), N, F);
  expect_close_relative_to_max("pre + bias", epre, pre, 0.0);  // one float addition, as the CPU's
  expect_close_relative_to_max("gelu", egelu, gelu, 1e-6);
  expect_close_relative_to_max("dpre", ed, dpre, 1e-6);
  expect_close_relative_to_max("dbias", edb, db, 1e-5);
}

// ---- the bf16 outputs of LayerNorm, the fused add + LayerNorm and bias + GELU: what the
// products after them read under bf16 precision. Each element is the bf16 rounding
// (kernels/bf16.h) of the same kernel's fp32 output, bit for bit, and every other output (mean,
// rstd, the residual, the pre-activation) is the fp32 call's. The bf16 outputs start as 0xffff
// (a NaN no value here rounds to), so an element left unwritten fails.
std::vector<uint16_t> rounded(const std::vector<float>& v) {
  std::vector<uint16_t> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = bf16_bits(v[i]);
  return r;
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(EmulatedKernels, Bf16Outputs) {
  const int64_t N = 45, C = 300;  // rows not a multiple of 8 warps; C > 256 (the lane loop wraps)
  auto a = randn(N * C, 50);
  for (float& v : a) v += 3.0f;
  const auto b = randn(N * C, 51), w = randn(C, 52), bias = randn(C, 53);
  {
    std::vector<float> out(N * C), mean(N), rstd(N), mean16 = nans(N), rstd16 = nans(N);
    std::vector<uint16_t> out16(N * C, 0xffff);
    cuda_emu::layernorm_forward(out.data(), mean.data(), rstd.data(), a.data(), w.data(), bias.data(), N, C);
    cuda_emu::layernorm_forward(nullptr, mean16.data(), rstd16.data(), a.data(), w.data(), bias.data(), N, C,
                                out16.data());
    EXPECT_TRUE(rounded(out) == out16) << "layernorm: bf16 output";
    EXPECT_TRUE(same_bits(mean16, mean) && same_bits(rstd16, rstd)) << "layernorm: mean, rstd";
  }
  {
    std::vector<float> residual(N * C), out(N * C), mean(N), rstd(N);
    std::vector<float> residual16 = nans(N * C), mean16 = nans(N), rstd16 = nans(N);
    std::vector<uint16_t> out16(N * C, 0xffff);
    cuda_emu::add_layernorm_forward(residual.data(), out.data(), mean.data(), rstd.data(), a.data(), b.data(),
                                    w.data(), bias.data(), N, C);
    cuda_emu::add_layernorm_forward(residual16.data(), nullptr, mean16.data(), rstd16.data(), a.data(), b.data(),
                                    w.data(), bias.data(), N, C, out16.data());
    EXPECT_TRUE(rounded(out) == out16) << "add + layernorm: bf16 output";
    EXPECT_TRUE(same_bits(residual16, residual) && same_bits(mean16, mean) && same_bits(rstd16, rstd))
        << "add + layernorm: residual, mean, rstd";
  }
  {
    const int64_t F = 130;  // not a multiple of 32 columns
    const auto pre0 = randn(N * F, 54, 2.0f), fbias = randn(F, 55);
    std::vector<float> pre = pre0, pre16 = pre0, out(N * F);
    std::vector<uint16_t> out16(N * F, 0xffff);
    cuda_emu::bias_gelu_forward(pre.data(), out.data(), fbias.data(), N, F);
    cuda_emu::bias_gelu_forward(pre16.data(), nullptr, fbias.data(), N, F, out16.data());
    EXPECT_TRUE(rounded(out) == out16) << "bias + gelu: bf16 output";
    EXPECT_TRUE(same_bits(pre16, pre)) << "bias + gelu: pre-activation";
  }
}

// ---- fp32 -> bf16 (kernels/cuda/bf16.cu, the rounding of kernels/bf16.h) -------------------------
// Against a reference built another way: the nearer of the two bf16 neighbours of |x| by their
// values in double (the one past the largest finite bf16 counting as 2^128, where IEEE rounding
// overflows to Inf), ties to the even one. Special inputs first: exact ties both ways, one ulp
// either side of a tie, subnormals (rounded, never flushed: a tie to 0, a tie to 2 x 2^-133, the
// largest rounding up to the smallest normal), the largest finite floats (a tie at the top
// rounds to Inf), +-Inf, +-0, NaNs quiet and signalling of both signs (stay NaN: the quiet bit
// set, sign and upper payload kept, never Inf); then random values at every scale. n is not a
// multiple of the 256 threads of a block; dst starts as a pattern no input rounds to, so an
// element never written fails.
uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
double bf16_magnitude(uint32_t h) {  // |value| of bf16 bits h (sign ignored), exponent unbounded
  const int e = static_cast<int>((h >> 7) & 0xff), m = static_cast<int>(h & 0x7f);
  return e == 0 ? std::ldexp(m, -133) : std::ldexp(1.0 + m / 128.0, e - 127);
}
uint16_t reference_bf16(float x) {
  const uint32_t u = bits_of(x), sign = (u >> 16) & 0x8000u, mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN
  const uint32_t lo = mag >> 16;                                         // towards zero
  if ((mag & 0xffffu) == 0) return static_cast<uint16_t>(sign | lo);     // exact (and +-Inf)
  const double v = std::fabs(static_cast<double>(x)), below = v - bf16_magnitude(lo), above = bf16_magnitude(lo + 1) - v;
  const bool up = above < below || (above == below && (lo & 1u));
  return static_cast<uint16_t>(sign | (up ? lo + 1 : lo));
}

TEST(EmulatedKernels, ToBf16) {
  std::vector<float> x;
  for (uint32_t u : {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0x3f818001u, 0x3f817fffu,  // ties, near ties
                     0x00000001u, 0x00008000u, 0x00018000u, 0x00008001u, 0x007fffffu, 0x00400000u,  // subnormals
                     0x7f7fffffu, 0x7f7f7fffu, 0x7f7f8000u, 0x7f7e8000u,                          // the largest
                     0x7f800000u, 0x00000000u, 0x7fc00000u, 0x7f800001u, 0x7fa12345u})              // Inf, 0, NaNs
    for (uint32_t sign : {0u, 0x80000000u}) x.push_back(from_bits(u | sign));
  const int64_t n = 70001;
  for (const float scale : {1.0f, 1e-39f, 1e-20f, 3e37f}) {
    const std::vector<float> r = randn(n / 4, 77, scale);
    x.insert(x.end(), r.begin(), r.end());
  }
  x.resize(n, 1.5f);
  std::vector<uint16_t> dst(n, 0xffbf);  // a NaN no input rounds to: quiet NaNs keep bit 6 set
  cuda_emu::to_bf16(dst.data(), x.data(), n);
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t want = reference_bf16(x[i]);
    if (dst[i] != want && wrong++ < 10)
      ADD_FAILURE() << "element " << i << ": " << x[i] << " (0x" << std::hex << bits_of(x[i]) << ") -> 0x" << dst[i]
                    << ", want 0x" << want << std::dec;
  }
  EXPECT_EQ(wrong, 0);
  // The reference itself, on cases known by heart: a tie to even each way, a subnormal tie to
  // zero, the top tie to Inf, a signalling NaN quieted.
  EXPECT_EQ(reference_bf16(from_bits(0x3f808000u)), 0x3f80);
  EXPECT_EQ(reference_bf16(from_bits(0x3f818000u)), 0x3f82);
  EXPECT_EQ(reference_bf16(from_bits(0x80008000u)), 0x8000);
  EXPECT_EQ(reference_bf16(from_bits(0x7f7f8000u)), 0x7f80);
  EXPECT_EQ(reference_bf16(from_bits(0xff800001u)), 0xffc0);
}

}  // namespace
}  // namespace alibi
