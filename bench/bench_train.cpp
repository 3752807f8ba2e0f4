// Training-step benchmark: tokens/s, step time, model FLOPs utilisation and peak memory
// of one full step (forward, backward, clip, AdamW) on random tokens, for the shapes in
// bench/RESULTS.md. Compare with bench/pytorch_reference.py on the same machine.
//
//   bench_train --model bench|tiny [--steps N] [--batch B] [--precision fp32|bf16]
//               [--peak-gflops G]
// MFU is against an fp32 rate in either precision (so bf16 can pass 1.0 in principle): by
// default this build's fp32 GEMM measured here on the bench model's MLP-up product (4096 x
// 2048 x 512), the best this machine does on our shapes; the nominal peak of a VM's CPU is
// a guess (this box has reported Zen 4 and Zen 5 in different sessions).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blas.h"
#include "kernels/dispatch.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "runtime/allocator.h"

using namespace alibi;

namespace {

// The best of 5 timed runs of out (4096, 2048) = inp (4096, 512) x W (2048, 512)^T in fp32,
// after one warm-up: the rate the MFU is measured against when --peak-gflops is not given.
double measure_gemm_gflops() {
  const int64_t M = 4096, N = 2048, K = 512;
  std::vector<float> a(M * K, 0.5f), b(N * K, 0.25f), c(M * N);
  double best = 1e30;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::gemm(false, true, M, N, K, 1.0f, a.data(), K, b.data(), K, 0.0f, c.data(), N);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, dt);
  }
  return 2.0 * M * N * K / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string which = "tiny", precision = "fp32";
  int steps = 10, batch = 0;
  double peak_gflops = 0;  // 0: measure_gemm_gflops()
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) which = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--peak-gflops")) peak_gflops = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--precision")) precision = argv[i + 1];
  }
  const bool peak_measured = peak_gflops <= 0;
  if (peak_measured) peak_gflops = measure_gemm_gflops();
  ModelConfig cfg;
  if (which == "bench") {
    cfg.channels = 512; cfg.layers = 8; cfg.heads = 8; cfg.seq_len = 512; cfg.vocab = 8192;
    if (!batch) batch = 8;
  } else {
    cfg.channels = 128; cfg.layers = 4; cfg.heads = 4; cfg.seq_len = 256; cfg.vocab = 256;
    if (!batch) batch = 16;
  }
  const int B = batch, T = cfg.seq_len;
  Model<float> model(cfg, 1);
  model.to_device(Device::cpu, parse_enum<MatmulPrecision>(precision));
  AdamW<float> adam(model.parameters(), {});
  std::mt19937 gen(1);
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int32_t>(gen() % cfg.vocab);
    targets[i] = static_cast<int32_t>(gen() % cfg.vocab);
  }
  std::vector<double> times;
  for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps fill the allocator's cache
    const auto t0 = std::chrono::steady_clock::now();
    zero_grads(model.parameters());
    model.forward(tokens.data(), targets.data(), B, T);
    model.backward(1.0f / static_cast<float>(B * T));
    clip_grad_norm<float>(model.parameters(), 1.0, model.grid());
    adam.step(1e-3f, 0.1f);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= 2) times.push_back(dt);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double tokens_per_s = B * T / median;
  // FLOPs per token: 6 x parameters (forward 2, backward 4) + attention 12 L T C (scores
  // and weighted values, forward and backward, counted over the full T x T as PaLM's MFU
  // does; the causal kernel does about half of it).
  const double n_params = static_cast<double>(cfg.parameter_count());
  const double flops_per_token = 6.0 * n_params + 12.0 * cfg.layers * T * cfg.channels;
  const double gflops = flops_per_token * tokens_per_s / 1e9;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("{\"model\": \"%s\", \"gemm\": \"%s\", \"precision\": \"%s\", \"B\": %d, \"T\": %d, \"params\": %.0f, \"median_step_s\": %.4f, "
              "\"tokens_per_s\": %.1f, \"model_gflops\": %.1f, \"mfu\": %.3f, \"mfu_against\": \"%s %.1f GFLOP/s\", \"peak_rss_mb\": %.1f, "
              "\"allocator_peak_mb\": %.1f}\n",
              which.c_str(), cpu::gemm_library(), precision.c_str(), B, T, n_params, median, tokens_per_s, gflops, gflops / peak_gflops,
              peak_measured ? "measured fp32 GEMM" : "--peak-gflops", peak_gflops,
              ru.ru_maxrss / 1024.0, CpuAllocator::instance().stats().peak_bytes / 1048576.0);
  return 0;
}
