// Training-step benchmark: tokens/s, step time, model FLOPs utilisation and peak memory
// of one full step (forward, backward, clip, AdamW) on random tokens, for the shapes in
// bench/RESULTS.md. Compare with bench/pytorch_reference.py on the same machine.
//
//   bench_train --model bench|tiny [--steps N] [--batch B] [--precision fp32|bf16]
//               [--peak-gflops 234.8]
// MFU is against the fp32 peak in either precision (so bf16 can pass 1.0 in principle).
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

int main(int argc, char** argv) {
  std::string which = "tiny", precision = "fp32";
  int steps = 10, batch = 0;
  double peak_gflops = 234.8;  // 2 Zen 4 cores x 32 FLOP/cycle x 3.67 GHz (ENVIRONMENT.md)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) which = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--peak-gflops")) peak_gflops = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--precision")) precision = argv[i + 1];
  }
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
              "\"tokens_per_s\": %.1f, \"model_gflops\": %.1f, \"mfu\": %.3f, \"peak_rss_mb\": %.1f, "
              "\"allocator_peak_mb\": %.1f}\n",
              which.c_str(), cpu::gemm_library(), precision.c_str(), B, T, n_params, median, tokens_per_s, gflops, gflops / peak_gflops,
              ru.ru_maxrss / 1024.0, CpuAllocator::instance().stats().peak_bytes / 1048576.0);
  return 0;
}
