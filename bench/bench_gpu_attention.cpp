// Throughput of the CUDA causal attention kernel (kernels/cuda/attention.cu) with ALiBi, bf16
// tensor cores, at T = 1k..16k and HS = 64, 128: NH = 2048 / HS heads (C = 2048) and
// B = 16384 / T sequences, so every row of the table moves the same 16k tokens.
//
//   ./bench/bench_gpu_attention [--csv PATH]
//
// FLOPs counted as FlashAttention-2 reports them: forward 4 B NH T^2 HS / 2 (Q K^T and P V,
// the causal half), backward 2.5x that. The backward kernel recomputes more than that
// count (see attention.cu), which the backward TFLOP/s does not credit. Times are the
// median of 10 calls after 3 warm-up calls, each on the host clock from an idle stream to
// cuda_synchronize(), so a call includes its operand-preparation kernels, as in training.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#ifdef ALIBI_WITH_CUDA
#include "kernels/cuda/ops.h"
#endif

using namespace alibi;

namespace {

using Clock = std::chrono::steady_clock;

// Median seconds per call of fn over 10 calls, after 3 warm-up calls.
template <class Fn>
double time_per_call(Fn&& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cuda_synchronize();
  std::vector<double> times;
  for (int i = 0; i < 10; ++i) {
    const auto start = Clock::now();
    fn();
    cuda_synchronize();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return (times[4] + times[5]) / 2;
}

struct Row {
  int T, HS, B, NH;
  double fwd_ms, fwd_tflops, bwd_ms, bwd_tflops, fwd_peak_pct;
};

}  // namespace

int main(int argc, char** argv) {
  std::string csv_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--csv PATH]\n", argv[0]);
      return 2;
    }
  }
  if (cuda_device_count() == 0) {
    std::printf("bench_gpu_attention: no CUDA device (%s); nothing to measure. Run it on a GPU machine "
                "(tests/gpu/run.sh does).\n",
                cuda_unavailable_reason().c_str());
    return 0;
  }
#ifdef ALIBI_WITH_CUDA
  const double peak = cuda_bf16_peak_tflops();
  std::printf("causal ALiBi attention, bf16 tensor cores, %s (bf16 dense peak %s TFLOP/s)\n",
              cuda_device_name().c_str(), peak > 0 ? std::to_string((int)peak).c_str() : "unknown");
  std::printf("16384 tokens per call, NH * HS = 2048\n");
  std::printf("%6s %4s %3s %3s %10s %10s %10s %10s %8s\n", "T", "HS", "B", "NH", "fwd ms", "fwd TF/s", "bwd ms",
              "bwd TF/s", "fwd %pk");

  std::vector<Row> rows;
  for (int HS : {64, 128}) {
    for (int T : {1024, 2048, 4096, 8192, 16384}) {
      const int NH = 2048 / HS, B = 16384 / T;
      const int64_t n_qkv = (int64_t)B * T * NH * 3 * HS, n_out = (int64_t)B * T * NH * HS;
      std::vector<float> host(n_qkv);
      std::mt19937 gen(1);
      std::uniform_real_distribution<float> uni(-1.7f, 1.7f);
      for (float& x : host) x = uni(gen);
      Tensor qkv = Tensor::empty({n_qkv}, DType::f32, Device::cuda);
      Tensor dqkv = Tensor::empty({n_qkv}, DType::f32, Device::cuda);
      Tensor out = Tensor::empty({n_out}, DType::f32, Device::cuda);
      Tensor dout = Tensor::empty({n_out}, DType::f32, Device::cuda);
      Tensor lse = Tensor::empty({(int64_t)B * NH * T}, DType::f32, Device::cuda);
      copy_bytes(qkv.raw(), Device::cuda, host.data(), Device::cpu, n_qkv * sizeof(float));
      copy_bytes(dout.raw(), Device::cuda, host.data(), Device::cpu, n_out * sizeof(float));

      AttentionParams<float> p =
          fused_qkv_params<float>(qkv.data<float>(), out.data<float>(), lse.data<float>(), B, T, NH, HS);
      p.precision = MatmulPrecision::bf16;  // tensor cores
      float* d = dqkv.data<float>();

      const double fwd_s = time_per_call([&] { cuda::attention_forward(p); });
      const double bwd_s =
          time_per_call([&] { cuda::attention_backward(p, dout.data<float>(), d, d + HS, d + 2 * HS); });
      const double fwd_flops = 4.0 * B * NH * (double)T * T * HS / 2;
      Row r{T, HS, B, NH, fwd_s * 1e3, fwd_flops / fwd_s * 1e-12, bwd_s * 1e3, 2.5 * fwd_flops / bwd_s * 1e-12, 0};
      r.fwd_peak_pct = peak > 0 ? 100.0 * r.fwd_tflops / peak : 0.0;
      std::printf("%6d %4d %3d %3d %10.3f %10.1f %10.3f %10.1f %8.1f\n", r.T, r.HS, r.B, r.NH, r.fwd_ms,
                  r.fwd_tflops, r.bwd_ms, r.bwd_tflops, r.fwd_peak_pct);
      std::fflush(stdout);
      rows.push_back(r);
    }
  }

  if (!csv_path.empty()) {
    FILE* f = std::fopen(csv_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "bench_gpu_attention: cannot write %s (does its folder exist?)\n", csv_path.c_str());
      return 1;
    }
    std::fprintf(f, "device,T,HS,B,NH,fwd_ms,fwd_tflops,bwd_ms,bwd_tflops,fwd_pct_of_peak\n");
    for (const Row& r : rows)
      std::fprintf(f, "\"%s\",%d,%d,%d,%d,%.4f,%.2f,%.4f,%.2f,%.2f\n", cuda_device_name().c_str(), r.T, r.HS, r.B,
                   r.NH, r.fwd_ms, r.fwd_tflops, r.bwd_ms, r.bwd_tflops, r.fwd_peak_pct);
    std::fclose(f);
    std::printf("wrote %s\n", csv_path.c_str());
  }
#endif
  return 0;
}
