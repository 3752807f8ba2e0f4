// Throughput of the CPU causal ALiBi attention kernel (kernels/cpu/attention.cpp), forward
// and backward, in float at the training shapes B=4, NH=8, HS=64 (HS from argv[1]).
//
//   OMP_NUM_THREADS=2 ./bench/bench_attention [HS]
//
// FLOPs counted as the causal half of the dense products: forward 4*B*NH*T*T*HS/2 (Q K^T
// and P V), backward 2.5x that (the recomputed Q K^T plus four products).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "runtime/tensor.h"

using namespace alibi;

namespace {

using Clock = std::chrono::steady_clock;

// Seconds per call: the best of 5 batches of at least 0.2 s each (after a warm-up call).
// The best, not the mean, because the machine is shared: other jobs only ever add time.
template <class Fn>
double time_per_call(Fn&& fn) {
  fn();
  double best = 1e30;
  for (int batch = 0; batch < 5; ++batch) {
    int calls = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < 0.2);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int B = 4, NH = 8;
  const int HS = argc > 1 ? std::atoi(argv[1]) : 64;
  std::printf("causal ALiBi attention, float, B=%d NH=%d HS=%d\n", B, NH, HS);
  std::printf("%6s %12s %12s %12s %12s\n", "T", "fwd ms", "fwd GFLOP/s", "bwd ms", "bwd GFLOP/s");
  for (int T : {128, 512, 2048}) {
    const int64_t n_qkv = (int64_t)B * T * NH * 3 * HS, n_out = (int64_t)B * T * NH * HS;
    Tensor qkv = Tensor::empty({n_qkv}, DType::f32), dqkv = Tensor::empty({n_qkv}, DType::f32);
    Tensor out = Tensor::empty({n_out}, DType::f32), dout = Tensor::empty({n_out}, DType::f32);
    Tensor lse = Tensor::empty({(int64_t)B * NH * T}, DType::f32);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (int64_t i = 0; i < n_qkv; ++i) qkv.data<float>()[i] = uni(rng);
    for (int64_t i = 0; i < n_out; ++i) dout.data<float>()[i] = uni(rng);

    AttentionParams<float> p = fused_qkv_params<float>(qkv.data<float>(), out.data<float>(), lse.data<float>(), B, T, NH, HS);
    float* d = dqkv.data<float>();

    const double fwd_s = time_per_call([&] { cpu::attention_forward(p); });
    const double bwd_s =
        time_per_call([&] { cpu::attention_backward(p, dout.data<float>(), d, d + HS, d + 2 * HS); });
    const double fwd_flops = 4.0 * B * NH * (double)T * T * HS / 2;
    std::printf("%6d %12.3f %12.1f %12.3f %12.1f\n", T, fwd_s * 1e3, fwd_flops / fwd_s * 1e-9, bwd_s * 1e3,
                2.5 * fwd_flops / bwd_s * 1e-9);
  }
  return 0;
}
