// Every CUDA kernel except attention (test_cuda_attention.cpp) against the CPU reference on
// fresh random inputs, forward and backward, through the same ops:: entry points the
// layers call; then the whole model on the GPU against the CPU: one step's loss and
// gradients, a few AdamW steps, and parameters that move GPU -> CPU -> GPU unchanged.
//
// Tolerances: in fp32 mode (MatmulPrecision::fp32) the GPU differs from the CPU only by
// summation order: 1e-5 relative to the largest reference value for single kernels, 1e-4
// for the model. In bf16 mode the matrix products round their inputs to 8 significant
// bits (relative error 2^-9 per element); a K-term dot product of unit-scale values then
// errs by about 2^-9 sqrt(K) relative to its typical size, so products are checked at
// 2e-2 max / 4e-3 mean relative error, and the model's loss within 1e-2 nats.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "runtime/device.h"
#include "tests/compare.h"
#include "tests/gpu/gpu_test.h"
#include "tests/random_vectors.h"

namespace alibi {
namespace {

using test::expect_close_relative_to_max;
using test::nans;
using test::download;
using test::randn;
using test::upload;

// A model small enough for the CPU reference; 4 heads of 32 (the tensor-core attention path).
ModelConfig small_model(const std::string& position) {
  ModelConfig cfg;
  cfg.vocab = 300;
  cfg.layers = 2;
  cfg.channels = 128;  // 4 heads of 32: the tensor-core attention path
  cfg.heads = 4;
  cfg.ffn = 256;
  cfg.seq_len = 80;    // not a multiple of the attention tiles
  cfg.position = parse_enum<PositionMethod>(position);
  return cfg;
}

#ifdef ALIBI_WITH_CUDA
// ---- linear (cuBLAS) ---------------------------------------------------------------------------
// with_copy: the products read the weight's bf16 working copy (made by ops::to_bf16, as
// layers/bf16_copy.h makes it) and round only the other operand into bf16 scratch.
void check_linear(MatmulPrecision precision, double rel, double mean_rel, bool with_copy = false) {
  const int64_t N = 77, IC = 96, OC = 130;  // nothing a multiple of a tile
  const auto x = randn(N * IC, 1), w = randn(OC * IC, 2, 0.1f), b = randn(OC, 3), dy = randn(N * OC, 4);
  const auto dw0 = randn(OC * IC, 5), db0 = randn(OC, 6);  // += contracts
  std::vector<float> out(N * OC), dx(N * IC), dw = dw0, db = db0;
  cpu::linear_forward<float>(out.data(), x.data(), w.data(), b.data(), N, IC, OC);
  cpu::linear_backward<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), N, IC, OC);
  Tensor gx = upload(x), gw = upload(w), gb = upload(b), gdy = upload(dy), gout = upload(std::vector<float>(N * OC)),
         gdx = upload(std::vector<float>(N * IC)), gdw = upload(dw0), gdb = upload(db0);
  Tensor gw16 = Tensor::empty({OC, IC}, DType::u16, Device::cuda);
  ops::to_bf16(Device::cuda, gw16.data<uint16_t>(), gw.data<float>(), OC * IC);
  const uint16_t* w16 = with_copy ? gw16.data<uint16_t>() : nullptr;
  ops::linear_forward<float>(Device::cuda, precision, gout.data<float>(), gx.data<float>(), gw.data<float>(), gb.data<float>(), N, IC, OC,
                             w16);
  ops::linear_backward<float>(Device::cuda, precision, gdx.data<float>(), gdw.data<float>(), gdb.data<float>(), gdy.data<float>(),
                              gx.data<float>(), gw.data<float>(), N, IC, OC, w16);
  expect_close_relative_to_max("linear out", download(gout), out, rel, mean_rel);
  expect_close_relative_to_max("linear dinp", download(gdx), dx, rel, mean_rel);
  expect_close_relative_to_max("linear dweight", download(gdw), dw, rel, mean_rel);
  expect_close_relative_to_max("linear dbias", download(gdb), db, 1e-5);  // a plain fp32 column sum in both modes

  // The MLP's fc: the same GEMM, then the bias and GELU in one kernel; backward, GELU's
  // derivative and the bias gradient in one (from the CPU's pre-activation, in place on dy).
  std::vector<float> pre(N * OC), act(N * OC), dpre(N * OC), dbg = db0;
  cpu::linear_gelu_forward<float>(pre.data(), act.data(), x.data(), w.data(), b.data(), N, IC, OC);
  cpu::gelu_bias_backward<float>(dpre.data(), dbg.data(), pre.data(), dy.data(), N, OC);
  Tensor gpre = upload(nans(N * OC)), gact = upload(nans(N * OC)), gcpu_pre = upload(pre), gdbg = upload(db0);
  ops::linear_gelu_forward<float>(Device::cuda, precision, gpre.data<float>(), gact.data<float>(), gx.data<float>(),
                                  gw.data<float>(), gb.data<float>(), N, IC, OC, w16);
  ops::gelu_bias_backward<float>(Device::cuda, gdy.data<float>(), gdbg.data<float>(), gcpu_pre.data<float>(), gdy.data<float>(), N, OC);
  expect_close_relative_to_max("fc pre-activation", download(gpre), pre, rel, mean_rel);
  expect_close_relative_to_max("fc gelu", download(gact), act, rel, mean_rel);
  expect_close_relative_to_max("gelu dpre", download(gdy), dpre, 1e-6);  // per-element formula
  expect_close_relative_to_max("fc dbias", download(gdbg), dbg, 1e-5);
}

TEST(CudaKernels, LinearFp32) {
  ALIBI_REQUIRE_GPU();
  check_linear(MatmulPrecision::fp32, 1e-5, 0.0);
}

TEST(CudaKernels, LinearBf16) {
  ALIBI_REQUIRE_GPU();
  check_linear(MatmulPrecision::bf16, 2e-2, 4e-3);
}

TEST(CudaKernels, LinearBf16WithWeightCopy) {
  ALIBI_REQUIRE_GPU();
  check_linear(MatmulPrecision::bf16, 2e-2, 4e-3, /*with_copy=*/true);
}

// fp32 -> bf16 on the device: the bits of kernels/bf16.h's formula on the host (the emulator
// test covers ties, subnormals, Inf and NaN; here the hardware's float handling, e.g. no
// flush to zero of subnormal inputs).
TEST(CudaKernels, ToBf16) {
  ALIBI_REQUIRE_GPU();
  std::vector<float> x = randn(100003, 11);
  for (size_t i = 0; i < x.size(); i += 7) x[i] *= 1e-39f;  // subnormals
  Tensor gx = upload(x), g16 = Tensor::empty({int64_t(x.size())}, DType::u16, Device::cuda);
  ops::to_bf16(Device::cuda, g16.data<uint16_t>(), gx.data<float>(), int64_t(x.size()));
  std::vector<uint16_t> got(x.size());
  copy_bytes(got.data(), Device::cpu, g16.raw(), Device::cuda, got.size() * sizeof(uint16_t));
  int64_t wrong = 0;
  for (size_t i = 0; i < x.size(); ++i) wrong += got[i] != bf16_bits(x[i]);
  EXPECT_EQ(wrong, 0);
}

// ---- embedding -----------------------------------------------------------------------------------
TEST(CudaKernels, Embedding) {
  ALIBI_REQUIRE_GPU();
  const int64_t V = 50, C = 72, N = 300;
  std::mt19937 gen(7);
  std::vector<int32_t> tokens(N);
  for (int32_t& t : tokens) t = static_cast<int32_t>(gen() % (V + 5)) - 5;  // some negative: no row
  const auto wte = randn(V * C, 8), dy = randn(N * C, 9), dwte0 = randn(V * C, 10);
  std::vector<float> out(N * C), dwte = dwte0;
  cpu::embedding_forward<float>(out.data(), tokens.data(), wte.data(), N, C);
  cpu::embedding_backward<float>(dwte.data(), dy.data(), tokens.data(), N, C);
  Tensor gw = upload(wte), gout = upload(std::vector<float>(N * C)), gdy = upload(dy), gdw = upload(dwte0);
  ops::embedding_forward<float>(Device::cuda, gout.data<float>(), tokens.data(), gw.data<float>(), N, C);
  ops::embedding_backward<float>(Device::cuda, gdw.data<float>(), gdy.data<float>(), tokens.data(), N, C);
  expect_close_relative_to_max("embedding out", download(gout), out, 0.0);
  expect_close_relative_to_max("embedding dwte", download(gdw), dwte, 1e-5);
}

// ---- LayerNorm -----------------------------------------------------------------------------------
TEST(CudaKernels, LayerNorm) {
  ALIBI_REQUIRE_GPU();
  const int64_t N = 165, C = 200;  // dweight, dbias: three row chunks of the two-stage column sums
  auto x = randn(N * C, 11);
  for (int64_t i = 0; i < N * C; ++i) x[i] += 3.0f;  // a mean far from 0: the two-pass variance
  const auto w = randn(C, 12), b = randn(C, 13), dy = randn(N * C, 14), dx0 = randn(N * C, 15);
  const auto dw0 = randn(C, 16), db0 = randn(C, 17);
  std::vector<float> out(N * C), mean(N), rstd(N), dx = dx0, dw = dw0, db = db0;
  cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
  cpu::layernorm_backward<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  // The forward's outputs start as NaN, not as the CPU's results: an element it never
  // writes fails, and the backward reads the GPU's own mean and rstd.
  Tensor gx = upload(x), gw = upload(w), gb = upload(b), gdy = upload(dy), gout = upload(nans(N * C)), gmean = upload(nans(N)),
         grstd = upload(nans(N)), gdx = upload(dx0), gdw = upload(dw0), gdb = upload(db0);
  ops::layernorm_forward<float>(Device::cuda, gout.data<float>(), gmean.data<float>(), grstd.data<float>(), gx.data<float>(),
                                gw.data<float>(), gb.data<float>(), N, C);
  ops::layernorm_backward<float>(Device::cuda, gdx.data<float>(), gdw.data<float>(), gdb.data<float>(), gdy.data<float>(),
                                 gx.data<float>(), gw.data<float>(), gmean.data<float>(), grstd.data<float>(), N, C);
  expect_close_relative_to_max("layernorm out", download(gout), out, 1e-5);
  expect_close_relative_to_max("layernorm mean", download(gmean), mean, 1e-5);
  expect_close_relative_to_max("layernorm rstd", download(grstd), rstd, 1e-5);
  expect_close_relative_to_max("layernorm dinp", download(gdx), dx, 1e-5);
  expect_close_relative_to_max("layernorm dweight", download(gdw), dw, 1e-5);
  expect_close_relative_to_max("layernorm dbias", download(gdb), db, 1e-5);
}

// ---- the block's residual add fused with LayerNorm; the gradient norm's one reduction ----------
TEST(CudaKernels, AddLayerNormAndSumSquaresMany) {
  ALIBI_REQUIRE_GPU();
  const int64_t N = 45, C = 300;
  auto a = randn(N * C, 30);
  for (float& v : a) v += 3.0f;
  const auto b = randn(N * C, 31), w = randn(C, 32), bias = randn(C, 33);
  std::vector<float> residual(N * C), out(N * C), mean(N), rstd(N);
  cpu::add<float>(residual.data(), a.data(), b.data(), N * C);
  cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), residual.data(), w.data(), bias.data(), N, C);
  Tensor ga = upload(a), gb = upload(b), gw = upload(w), gbias = upload(bias), gres = upload(nans(N * C)), gout = upload(nans(N * C)),
         gmean = upload(nans(N)), grstd = upload(nans(N));
  ops::add_layernorm_forward<float>(Device::cuda, gres.data<float>(), gout.data<float>(), gmean.data<float>(),
                                    grstd.data<float>(), ga.data<float>(), gb.data<float>(), gw.data<float>(),
                                    gbias.data<float>(), N, C);
  expect_close_relative_to_max("residual", download(gres), residual, 0.0);
  expect_close_relative_to_max("layernorm out", download(gout), out, 1e-5);
  expect_close_relative_to_max("layernorm mean", download(gmean), mean, 1e-5);
  expect_close_relative_to_max("layernorm rstd", download(grstd), rstd, 1e-5);

  const float* xs[] = {ga.data<float>(), gb.data<float>(), gw.data<float>()};
  const int64_t ns[] = {N * C, 1, C};
  const double expected = cpu::sum_squares<float>(a.data(), N * C) + cpu::sum_squares<float>(b.data(), 1) +
                          cpu::sum_squares<float>(w.data(), C);
  EXPECT_NEAR(ops::sum_squares_many<float>(Device::cuda, xs, ns, 3), expected, 1e-10 * expected);  // double sums
}

// ---- the wait timers' clock: the stream's time between events, not the host's enqueue ---------
TEST(CudaKernels, StreamTimerMeasuresTheStream) {
  ALIBI_REQUIRE_GPU();
  Tensor big = Tensor::empty({int64_t{1} << 28}, DType::f32, Device::cuda);  // 1 GiB
  StreamTimer t;
  for (int i = 0; i < 4; ++i) {
    t.begin(Device::cuda);
    zero_bytes(big.raw(), Device::cuda, big.nbytes());  // returns at once; ~0.2 ms each at 4.8 TB/s
    t.end();
  }
  const double busy = t.seconds();
  EXPECT_GT(busy, 1e-5);
  EXPECT_LT(busy, 1.0);
  t.reset();
  t.begin(Device::cuda);
  t.end();
  EXPECT_LT(t.seconds(), 1e-3);  // an empty span
}

// ---- GELU, add, scale, AdamW, reductions -------------------------------------------------------
TEST(CudaKernels, Elementwise) {
  ALIBI_REQUIRE_GPU();
  const int64_t n = 100003;
  const auto x = randn(n, 18, 3.0f), y = randn(n, 19), g = randn(n, 20, 0.1f);
  std::vector<float> gelu(n), dgelu(n), sum(n);
  cpu::gelu_forward<float>(gelu.data(), x.data(), n);
  cpu::gelu_backward<float>(dgelu.data(), x.data(), y.data(), n);
  cpu::add<float>(sum.data(), x.data(), y.data(), n);
  Tensor gx = upload(x), gy = upload(y), gout = upload(std::vector<float>(n));
  ops::gelu_forward<float>(Device::cuda, gout.data<float>(), gx.data<float>(), n);
  expect_close_relative_to_max("gelu", download(gout), gelu, 1e-6);
  ops::gelu_backward<float>(Device::cuda, gout.data<float>(), gx.data<float>(), gy.data<float>(), n);
  expect_close_relative_to_max("gelu backward", download(gout), dgelu, 1e-6);
  ops::add<float>(Device::cuda, gout.data<float>(), gx.data<float>(), gy.data<float>(), n);
  expect_close_relative_to_max("add", download(gout), sum, 0.0);

  EXPECT_NEAR(ops::sum_squares<float>(Device::cuda, gx.data<float>(), n), cpu::sum_squares<float>(x.data(), n),
              1e-9 * cpu::sum_squares<float>(x.data(), n));
  EXPECT_NEAR(ops::sum<float>(Device::cuda, gx.data<float>(), n), cpu::sum<float>(x.data(), n), 1e-6 * n);

  std::vector<float> p = x, m(n, 0.0f), v(n, 0.0f);
  Tensor gp = upload(p), gm = upload(m), gv = upload(v), gg = upload(g);
  for (int step = 1; step <= 3; ++step) {
    cpu::adamw_update<float>(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
    ops::adamw_update<float>(Device::cuda, gp.data<float>(), gg.data<float>(), gm.data<float>(), gv.data<float>(), n,
                             1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
  }
  expect_close_relative_to_max("adamw param", download(gp), p, 1e-6);
  expect_close_relative_to_max("adamw m", download(gm), m, 1e-6);
  expect_close_relative_to_max("adamw v", download(gv), v, 1e-6);
}

TEST(CudaKernels, PositionRows) {
  ALIBI_REQUIRE_GPU();
  const int64_t B = 3, T = 17, C = 40;
  const auto x = randn(B * T * C, 21), table = randn(T * C, 22), dt0 = randn(T * C, 23);
  std::vector<float> out = x, dtable = dt0;
  cpu::add_position_rows<float>(out.data(), table.data(), B, T, C, 2.5f);
  cpu::position_rows_backward<float>(dtable.data(), x.data(), B, T, C);
  Tensor gx = upload(x), gt = upload(table), gdt = upload(dt0), gdx = upload(x);
  ops::add_position_rows<float>(Device::cuda, gx.data<float>(), gt.data<float>(), B, T, C, 2.5f);
  ops::position_rows_backward<float>(Device::cuda, gdt.data<float>(), gdx.data<float>(), B, T, C);
  expect_close_relative_to_max("position rows", download(gx), out, 1e-6);
  expect_close_relative_to_max("position rows backward", download(gdt), dtable, 1e-6);
}

// ---- vocabulary-parallel cross-entropy: a shard [v0, v0 + V) with targets in and out ------------
TEST(CudaKernels, VocabCrossEntropy) {
  ALIBI_REQUIRE_GPU();
  const int64_t N = 33, V = 1000, v0 = 500;
  const auto logits = randn(N * V, 24, 4.0f);
  std::mt19937 gen(25);
  std::vector<int32_t> targets(N);
  for (int32_t& t : targets) t = static_cast<int32_t>(gen() % 2000) - 100;  // some unscored, some elsewhere
  std::vector<float> row_max(N), losses(N), dlogits(N * V);
  std::vector<double> sum_exp(N), target_logit(N);
  cpu::vocab_ce_row_max<float>(row_max.data(), logits.data(), N, V, V);
  cpu::vocab_ce_partials<float>(sum_exp.data(), target_logit.data(), logits.data(), row_max.data(), targets.data(), v0, N, V, V);
  cpu::vocab_ce_losses<float>(losses.data(), sum_exp.data(), target_logit.data(), row_max.data(), targets.data(), N);
  cpu::vocab_ce_backward<float>(dlogits.data(), logits.data(), row_max.data(), sum_exp.data(), targets.data(), v0, N, V, V, 0.25f);

  Tensor gl = upload(logits), gmax = upload(std::vector<float>(N)), glosses = upload(std::vector<float>(N)),
         gd = upload(std::vector<float>(N * V));
  Tensor gsum = Tensor::zeros({N}, DType::f64, Device::cuda), gtl = Tensor::zeros({N}, DType::f64, Device::cuda);
  ops::vocab_ce_row_max<float>(Device::cuda, gmax.data<float>(), gl.data<float>(), N, V, V);
  ops::vocab_ce_partials<float>(Device::cuda, gsum.data<double>(), gtl.data<double>(), gl.data<float>(), gmax.data<float>(),
                                targets.data(), v0, N, V, V);
  ops::vocab_ce_losses<float>(Device::cuda, glosses.data<float>(), gsum.data<double>(), gtl.data<double>(), gmax.data<float>(),
                              targets.data(), N);
  ops::vocab_ce_backward<float>(Device::cuda, gd.data<float>(), gl.data<float>(), gmax.data<float>(), gsum.data<double>(),
                                targets.data(), v0, N, V, V, 0.25f);
  expect_close_relative_to_max("row max", download(gmax), row_max, 0.0);
  expect_close_relative_to_max("losses", download(glosses), losses, 1e-5);
  expect_close_relative_to_max("dlogits", download(gd), dlogits, 1e-5);
  const Tensor hsum = gsum.to(Device::cpu);
  for (int64_t i = 0; i < N; ++i) EXPECT_NEAR(hsum.data<double>()[i], sum_exp[i], 1e-5 * sum_exp[i]) << "row " << i;
}

// ---- the whole model: GPU against CPU ------------------------------------------------------------
std::vector<int32_t> random_tokens(int64_t n, int vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = static_cast<int32_t>(gen() % vocab);
  return t;
}

void check_model_step(const std::string& position, MatmulPrecision precision, double loss_tol, double grad_rel) {
  const ModelConfig cfg = small_model(position);
  const int B = 3, T = cfg.seq_len;
  const auto tokens = random_tokens(int64_t{B} * T, cfg.vocab, 31), targets = random_tokens(int64_t{B} * T, cfg.vocab, 32);
  Model<float> cpu_model(cfg, 7), gpu_model(cfg, 7);
  gpu_model.to_device(Device::cuda, precision);
  const double cpu_loss = cpu_model.forward(tokens.data(), targets.data(), B, T);
  const double gpu_loss = gpu_model.forward(tokens.data(), targets.data(), B, T);
  const double n = static_cast<double>(B) * T;
  EXPECT_NEAR(gpu_loss / n, cpu_loss / n, loss_tol) << position;
  cpu_model.backward(static_cast<float>(1.0 / n));
  gpu_model.backward(static_cast<float>(1.0 / n));
  const ParameterList& cp = cpu_model.parameters();
  const ParameterList& gp = gpu_model.parameters();
  ASSERT_EQ(cp.size(), gp.size());
  for (size_t i = 0; i < cp.size(); ++i) {
    ASSERT_EQ(gp[i].grad->device(), Device::cuda) << gp[i].name;
    const Tensor& g = *cp[i].grad;
    expect_close_relative_to_max(position + " grad " + cp[i].name, download(*gp[i].grad),
                                 std::vector<float>(g.data<float>(), g.data<float>() + g.numel()), grad_rel);
  }
}

TEST(CudaModel, StepMatchesCpuFp32) {
  ALIBI_REQUIRE_GPU();
  for (const char* position : {"alibi", "none", "rotary", "t5", "sinusoidal", "learned"})
    check_model_step(position, MatmulPrecision::fp32, 1e-5, 1e-3);
}

TEST(CudaModel, StepMatchesCpuBf16) {
  ALIBI_REQUIRE_GPU();
  check_model_step("alibi", MatmulPrecision::bf16, 1e-2, 5e-2);
}

// A few AdamW steps on the same batches: the GPU's losses follow the CPU's.
TEST(CudaModel, TrainingFollowsCpu) {
  ALIBI_REQUIRE_GPU();
  const ModelConfig cfg = small_model("alibi");
  const int B = 4, T = cfg.seq_len;
  Model<float> cpu_model(cfg, 3), gpu_model(cfg, 3);
  gpu_model.to_device(Device::cuda);
  AdamW<float> cpu_adam(cpu_model.parameters(), {0.9f, 0.95f, 1e-8f});
  AdamW<float> gpu_adam(gpu_model.parameters(), {0.9f, 0.95f, 1e-8f});
  const auto tokens = random_tokens(int64_t{B} * (T + 1), 64, 41);  // a small vocabulary: learnable
  std::vector<int32_t> in(size_t(B) * T), tg(in.size());
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      in[size_t(b) * T + t] = tokens[size_t(b) * (T + 1) + t];
      tg[size_t(b) * T + t] = tokens[size_t(b) * (T + 1) + t + 1];
    }
  const double n = static_cast<double>(B) * T;
  for (int step = 0; step < 8; ++step) {
    zero_grads(cpu_model.parameters());
    zero_grads(gpu_model.parameters());
    const double lc = cpu_model.forward(in.data(), tg.data(), B, T) / n;
    const double lg = gpu_model.forward(in.data(), tg.data(), B, T) / n;
    EXPECT_NEAR(lg, lc, 2e-2) << "step " << step;  // bf16 products, compounding over steps
    cpu_model.backward(static_cast<float>(1.0 / n));
    gpu_model.backward(static_cast<float>(1.0 / n));
    clip_grad_norm<float>(cpu_model.parameters(), 1.0, cpu_model.grid());
    clip_grad_norm<float>(gpu_model.parameters(), 1.0, gpu_model.grid());
    cpu_adam.step(3e-3f, 0.1f);
    gpu_adam.step(3e-3f, 0.1f);
  }
}

// Parameters are fp32 on both devices: a round trip changes no bit (checkpoints stay
// layout- and device-free because they are written from these host copies).
TEST(CudaModel, ParametersRoundTripExactly) {
  ALIBI_REQUIRE_GPU();
  Model<float> a(small_model("alibi"), 5), b(small_model("alibi"), 5);
  b.to_device(Device::cuda);
  for (size_t i = 0; i < a.parameters().size(); ++i) {
    const Tensor& t = *a.parameters()[i].value;
    expect_close_relative_to_max(a.parameters()[i].name, download(*b.parameters()[i].value),
                                 std::vector<float>(t.data<float>(), t.data<float>() + t.numel()), 0.0);
  }
}

#endif  // ALIBI_WITH_CUDA

// ---- without a device (runs everywhere; skips where a GPU exists) ----------------------------------
TEST(CudaAbsent, DeviceCudaIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device exists: the error path cannot be reached";
  Model<float> model(small_model("alibi"), 1);
  try {
    model.to_device(Device::cuda);
    FAIL() << "to_device(cuda) without a device must throw";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tensor::empty({4}, DType::f32, Device::cuda), DeviceError);
}

}  // namespace
}  // namespace alibi
