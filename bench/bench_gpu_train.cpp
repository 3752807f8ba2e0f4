// GPU training-step benchmark: tokens/s, step time, model FLOPs utilisation and peak device
// memory of one full step (forward, backward, clip, AdamW) on one GPU, random tokens, for
// the shapes the issue names. tests/gpu/run.sh runs it; results go to bench/RESULTS.md
// with the card's name.
//
//   bench_gpu_train --model gpt2-small|1.3b [--steps N] [--batch B] [--seq-len T] [--json]
//
// MFU = model_flops_per_token (launch/plan.h: 6 x parameters + 12 L T C) x tokens/s over
// the card's dense bf16 peak (runtime/device.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "launch/plan.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "runtime/device.h"

using namespace alibi;

int main(int argc, char** argv) {
  std::string which = "gpt2-small";
  int steps = 10, batch = 0, seq_len = 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--model") && has_value) which = argv[++i];
    else if (!std::strcmp(argv[i], "--steps") && has_value) steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch") && has_value) batch = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seq-len") && has_value) seq_len = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--json")) json = true;
    else {
      std::fprintf(stderr, "bench_gpu_train: unknown argument %s; use --model gpt2-small|1.3b [--steps N] "
                           "[--batch B] [--seq-len T] [--json]\n", argv[i]);
      return 2;
    }
  }
  if (cuda_device_count() == 0) {
    std::printf("bench_gpu_train: skipped, no CUDA device (%s)\n", cuda_unavailable_reason().c_str());
    return 0;
  }
  ModelConfig cfg;
  cfg.vocab = 50257;
  cfg.seq_len = seq_len;
  if (which == "1.3b") {  // the paper's 1.3B shape
    cfg.layers = 25; cfg.channels = 2048; cfg.heads = 16; cfg.ffn = 8192;
    if (!batch) batch = 8;
  } else if (which == "gpt2-small") {
    cfg.layers = 12; cfg.channels = 768; cfg.heads = 12; cfg.ffn = 3072;
    if (!batch) batch = 16;
  } else {
    std::fprintf(stderr, "bench_gpu_train: --model %s is not gpt2-small or 1.3b\n", which.c_str());
    return 2;
  }
  select_cuda_device(0);
  const int B = batch, T = cfg.seq_len;
  Model<float> model(cfg, 1);
  model.to_device(Device::cuda);
  AdamW<float> adam(model.parameters(), {});
  std::mt19937 gen(1);
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int32_t>(gen() % cfg.vocab);
    targets[i] = static_cast<int32_t>(gen() % cfg.vocab);
  }
  std::vector<double> times;
  double loss = 0;
  for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps: cuBLAS heuristics, allocator cache
    cuda_synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    zero_grads(model.parameters());
    loss = model.forward(tokens.data(), targets.data(), B, T) / (double(B) * T);  // reads the loss: a sync
    model.backward(1.0f / static_cast<float>(B * T));
    clip_grad_norm<float>(model.parameters(), 1.0, model.grid());  // reads the norm: a sync
    adam.step(1e-4f, 0.1f);
    cuda_synchronize();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= 2) times.push_back(dt);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double tokens_per_s = double(B) * T / median;
  const double peak = cuda_bf16_peak_tflops();
  const double tflops = model_flops_per_token(cfg) * tokens_per_s / 1e12;
  const double mfu = peak > 0 ? tflops / peak : 0.0;
  const double peak_gib = double(cuda_allocator_stats().peak_bytes) / (1 << 30);
  if (json) {
    std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"params\": %lld, \"batch\": %d, \"seq_len\": %d, "
                "\"step_s\": %.4f, \"tokens_per_s\": %.0f, \"tflops\": %.1f, \"mfu\": %.3f, \"peak_gib\": %.2f, "
                "\"loss\": %.4f}\n",
                which.c_str(), cuda_device_name().c_str(), static_cast<long long>(cfg.parameter_count()), B, T, median,
                tokens_per_s, tflops, mfu, peak_gib, loss);
  } else {
    std::printf("%-10s  %s  %.0fM params  B=%d T=%d  step %.3f s  %.0f tokens/s  %.1f TFLOP/s  MFU %.1f%%  "
                "peak %.1f GiB  loss %.3f\n",
                which.c_str(), cuda_device_name().c_str(), cfg.parameter_count() / 1e6, B, T, median, tokens_per_s,
                tflops, 100 * mfu, peak_gib, loss);
  }
  return 0;
}
