// GEMM throughput of the CPU path's products (kernels/blas.h: the library ALIBI_GEMM chose,
// and bf16 operands through oneDNN where the build has it) on our transformer's shapes, at
// the thread count of OMP_NUM_THREADS. Row-major C(M,N) = A(M,K) * B(K,N), with the three
// layouts a Linear layer uses:
//   fwd   y  = x  W^T   : A = x (M,K),  B = W^T (W stored (N,K), transposed)
//   dX    dx = dy W     : A = dy (M,K), B = W (K,N) as stored
//   dW    dW = dy^T x   : A = dy^T (dy stored (K,M), transposed), B = x (K,N)  [M,N = out,in]
// M = B*T = 4096 tokens by default. Shapes are reported as (M, N, K) with FLOPs 2*M*N*K.
// The bf16 column includes rounding both operands to bf16 on every call, as training does.
//
//   OMP_NUM_THREADS=2 ./bench_gemm [M] [min_seconds_per_case]
//
// Prints one table; with PEAK=<fp32 peak of all threads in GFLOP/s> in the environment it
// adds each rate's share of it.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/blas.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  const char* what;
  int M, N, K;
  bool ta, tb;
};

float* alloc(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, n * sizeof(float)) != 0) std::abort();
  return static_cast<float*>(p);
}

// Median of several timed repetitions, each at least `min_s` / 5 seconds long.
double gflops(const Case& c, bool bf16, float* A, float* B, float* C, double min_s) {
  const int lda = c.ta ? c.M : c.K;
  const int ldb = c.tb ? c.K : c.N;
  auto run = [&] {
    if (bf16) alibi::cpu::gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A, lda, B, ldb, 0.0f, C, c.N);
    else alibi::cpu::gemm(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A, lda, B, ldb, 0.0f, C, c.N);
  };
  run();  // warm-up (thread pool, page faults)
  std::vector<double> rates;
  const auto t_all = Clock::now();
  do {
    int calls = 0;
    const auto t0 = Clock::now();
    double dt = 0;
    do {
      run();
      ++calls;
      dt = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (dt < min_s / 5);
    rates.push_back(2.0 * c.M * c.N * (double)c.K * calls / dt * 1e-9);
  } while (std::chrono::duration<double>(Clock::now() - t_all).count() < min_s || rates.size() < 3);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int M = argc > 1 ? std::atoi(argv[1]) : 4096;
  const double min_s = argc > 2 ? std::atof(argv[2]) : 1.0;
  const double peak = std::getenv("PEAK") ? std::atof(std::getenv("PEAK")) : 0.0;

  std::vector<Case> cases = {
      // C = 512 ("bench" model): QKV, attention out, MLP up, MLP down, LM head (V = 8192)
      {"qkv fwd  C=512", M, 1536, 512, false, true},
      {"proj fwd C=512", M, 512, 512, false, true},
      {"fc fwd   C=512", M, 2048, 512, false, true},
      {"fc2 fwd  C=512", M, 512, 2048, false, true},
      {"head fwd C=512", M, 8192, 512, false, true},
      {"qkv dX   C=512", M, 512, 1536, false, false},
      {"fc dW    C=512", 2048, 512, M, true, false},
      {"head dW  C=512", 8192, 512, M, true, false},
      // C = 128 ("tiny" model, V = 256)
      {"qkv fwd  C=128", M, 384, 128, false, true},
      {"proj fwd C=128", M, 128, 128, false, true},
      {"fc fwd   C=128", M, 512, 128, false, true},
      {"fc2 fwd  C=128", M, 128, 512, false, true},
      {"head fwd C=128", M, 256, 128, false, true},
      {"fc dW    C=128", 512, 128, M, true, false},
  };

  size_t max_a = 0, max_b = 0, max_c = 0;
  for (const Case& c : cases) {
    max_a = std::max(max_a, (size_t)c.M * c.K);
    max_b = std::max(max_b, (size_t)c.K * c.N);
    max_c = std::max(max_c, (size_t)c.M * c.N);
  }
  float *A = alloc(max_a), *B = alloc(max_b), *C = alloc(max_c);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (size_t i = 0; i < max_a; ++i) A[i] = uni(rng);
  for (size_t i = 0; i < max_b; ++i) B[i] = uni(rng);
  std::fill(C, C + max_c, 0.0f);

  const bool bf16 = alibi::cpu::gemm_bf16_available();
  std::printf("GEMM: %s, %d threads%s; %.1f s per case\n", alibi::cpu::gemm_library(), omp_get_max_threads(),
              alibi::cpu::bf16_native() ? ", bf16 in hardware" : "", min_s);
  std::printf("%-16s %6s %6s %6s  %11s %6s  %11s %6s\n", "case", "M", "N", "K", "fp32 GF/s", "peak", "bf16 GF/s",
              "peak");
  auto share = [&](double r) {
    char p[16] = "     -";
    if (peak > 0) std::snprintf(p, sizeof p, "%5.0f%%", 100 * r / peak);
    return std::string(p);
  };
  for (const Case& c : cases) {
    const double r32 = gflops(c, false, A, B, C, min_s);
    const double r16 = bf16 ? gflops(c, true, A, B, C, min_s) : 0.0;
    char r16_text[16] = "-";
    if (bf16) std::snprintf(r16_text, sizeof r16_text, "%.1f", r16);
    std::printf("%-16s %6d %6d %6d  %11.1f %6s  %11s %6s\n", c.what, c.M, c.N, c.K, r32, share(r32).c_str(), r16_text,
                bf16 ? share(r16).c_str() : "     -");
    std::fflush(stdout);
  }
  std::free(A);
  std::free(B);
  std::free(C);
  return 0;
}
