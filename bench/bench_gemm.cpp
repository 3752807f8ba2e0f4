// sgemm throughput of the BLAS we link (OpenBLAS) on our transformer's GEMM shapes, at 1
// and 2 threads (openblas_set_num_threads). Row-major C(M,N) = A(M,K) * B(K,N), with the
// three layouts a Linear layer uses:
//   fwd   y  = x  W^T   : A = x (M,K),  B = W^T (W stored (N,K), CblasTrans)
//   dX    dx = dy W     : A = dy (M,K), B = W (K,N) as stored
//   dW    dW = dy^T x   : A = dy^T (dy stored (K,M), CblasTrans), B = x (K,N)  [M,N = out,in]
// M = B*T = 4096 tokens by default. Shapes are reported as (M, N, K) with FLOPs 2*M*N*K.
//
//   ./bench_gemm [M] [min_seconds_per_case]
//
// Prints one table; with PEAK=<1-core fp32 peak in GFLOP/s> in the environment it adds each
// rate's share of the peak (threads x PEAK).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);
extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  const char* what;
  int M, N, K;
  CBLAS_TRANSPOSE ta, tb;
};

float* alloc(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, n * sizeof(float)) != 0) std::abort();
  return static_cast<float*>(p);
}

// Median of several timed repetitions, each at least `min_s` / 5 seconds long.
double gflops(const Case& c, float* A, float* B, float* C, double min_s) {
  const int lda = c.ta == CblasNoTrans ? c.K : c.M;
  const int ldb = c.tb == CblasNoTrans ? c.N : c.K;
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, c.ta, c.tb, c.M, c.N, c.K, 1.0f, A, lda, B, ldb, 0.0f, C, c.N);
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
      {"qkv fwd  C=512", M, 1536, 512, CblasNoTrans, CblasTrans},
      {"proj fwd C=512", M, 512, 512, CblasNoTrans, CblasTrans},
      {"fc fwd   C=512", M, 2048, 512, CblasNoTrans, CblasTrans},
      {"fc2 fwd  C=512", M, 512, 2048, CblasNoTrans, CblasTrans},
      {"head fwd C=512", M, 8192, 512, CblasNoTrans, CblasTrans},
      {"qkv dX   C=512", M, 512, 1536, CblasNoTrans, CblasNoTrans},
      {"fc dW    C=512", 2048, 512, M, CblasTrans, CblasNoTrans},
      {"head dW  C=512", 8192, 512, M, CblasTrans, CblasNoTrans},
      // C = 128 ("tiny" model, V = 256)
      {"qkv fwd  C=128", M, 384, 128, CblasNoTrans, CblasTrans},
      {"proj fwd C=128", M, 128, 128, CblasNoTrans, CblasTrans},
      {"fc fwd   C=128", M, 512, 128, CblasNoTrans, CblasTrans},
      {"fc2 fwd  C=128", M, 128, 512, CblasNoTrans, CblasTrans},
      {"head fwd C=128", M, 256, 128, CblasNoTrans, CblasTrans},
      {"fc dW    C=128", 512, 128, M, CblasTrans, CblasNoTrans},
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

  std::printf("OpenBLAS: %s (core %s); %.1f s per case\n", openblas_get_config(), openblas_get_corename(),
              min_s);
  if (peak > 0) std::printf("peak %%: share of %.1f GFLOP/s per thread\n", peak);
  std::printf("%-16s %6s %6s %6s  %12s %6s  %12s %6s  %7s\n", "case", "M", "N", "K", "1 thr GF/s", "peak",
              "2 thr GF/s", "peak", "speedup");
  for (const Case& c : cases) {
    double r[2];
    for (int t = 1; t <= 2; ++t) {
      openblas_set_num_threads(t);
      r[t - 1] = gflops(c, A, B, C, min_s);
    }
    char p1[16] = "     -", p2[16] = "     -";
    if (peak > 0) {
      std::snprintf(p1, sizeof p1, "%5.0f%%", 100 * r[0] / peak);
      std::snprintf(p2, sizeof p2, "%5.0f%%", 100 * r[1] / (2 * peak));
    }
    std::printf("%-16s %6d %6d %6d  %12.1f %6s  %12.1f %6s  %6.2fx\n", c.what, c.M, c.N, c.K, r[0], p1, r[1], p2,
                r[1] / r[0]);
    std::fflush(stdout);
  }
  std::free(A);
  std::free(B);
  std::free(C);
  return 0;
}
