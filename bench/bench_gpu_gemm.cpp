// cuBLAS throughput of one 1.3B-shaped product, the fused QKV projection of the paper's 1.3B
// model at 8192 tokens: out (8192, 6144) = inp (8192, 2048) W^T, W (6144, 2048). It runs
// through the backend's own entry points (cuda::linear_forward / linear_backward: fp32
// tensors, compute type by MatmulPrecision), so the table shows what training gets, and
// once with bf16 operands (cublasGemmEx, CUDA_R_16BF in, fp32 out), the ceiling the fp32
// storage of DESIGN.md's "Precision" gives up. tests/gpu/run.sh runs it.
//
//   ./bench/bench_gpu_gemm [--tokens N]
//
// A call's time is the median over 5 batches of 10 back-to-back calls (host clock, from an
// idle stream to cuda_synchronize), after 3 warm-up calls. Each product is checked on 16
// sampled entries against a double-precision host dot product, the error measured against
// the sum of |terms| (512 on average with U(-1, 1) operands). Bounds: bf16 rounds each
// operand to 8 bits (2^-9 relative), so a term errs by at most 2^-8 and the sum by 2^-8 of
// the |terms| in the worst case: 5e-3; tf32 keeps 11 bits: 1.5e-3; exact fp32 errs by about
// 1e-7 here (fp32 rounding of the running sum) while tf32 would err by ~3e-5: 1e-5 tells
// them apart. Exit 1 on a mismatch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/device.h"
#ifdef ALIBI_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "kernels/cuda/ops.h"
#endif

using namespace alibi;

#ifdef ALIBI_WITH_CUDA
namespace {

using Clock = std::chrono::steady_clock;

template <class Fn>
double seconds_per_call(Fn&& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cuda_synchronize();
  std::vector<double> per_call;
  for (int batch = 0; batch < 5; ++batch) {
    const auto start = Clock::now();
    for (int i = 0; i < 10; ++i) fn();
    cuda_synchronize();
    per_call.push_back(std::chrono::duration<double>(Clock::now() - start).count() / 10);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[2];
}

Tensor upload(const std::vector<float>& host) {
  Tensor t = Tensor::empty({(int64_t)host.size()}, DType::f32, Device::cuda);
  copy_bytes(t.raw(), Device::cuda, host.data(), Device::cpu, host.size() * sizeof(float));
  return t;
}

// out (N, OC) = inp (N, IC) W^T on 16 sampled entries, in double; false (and a message)
// when the device's entry differs by more than tol of the sum of |terms|.
bool check_samples(const char* what, const Tensor& out_dev, const std::vector<float>& inp,
                   const std::vector<float>& w, int64_t N, int64_t IC, int64_t OC, double tol) {
  std::vector<float> out(N * OC);
  copy_bytes(out.data(), Device::cpu, out_dev.raw(), Device::cuda, out.size() * sizeof(float));
  std::mt19937 gen(7);
  for (int s = 0; s < 16; ++s) {
    const int64_t n = gen() % N, o = gen() % OC;
    double ref = 0, scale = 0;
    for (int64_t i = 0; i < IC; ++i) {
      ref += double(inp[n * IC + i]) * w[o * IC + i];
      scale += std::fabs(double(inp[n * IC + i]) * w[o * IC + i]);
    }
    if (!(std::fabs(out[n * OC + o] - ref) <= tol * scale)) {
      std::fprintf(stderr, "bench_gpu_gemm: %s: out[%lld, %lld] = %g, the host's double product is %g "
                           "(tolerance %g of %g): cuBLAS or the operand layout is wrong\n",
                   what, (long long)n, (long long)o, out[n * OC + o], ref, tol * scale, scale);
      return false;
    }
  }
  return true;
}

}  // namespace
#endif

int main(int argc, char** argv) {
  int64_t N = 8192;  // tokens: B * T of one 1.3B micro-batch (8 x 1024)
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) {
      N = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--tokens N]\n", argv[0]);
      return 2;
    }
  }
  if (cuda_device_count() == 0) {
    std::printf("bench_gpu_gemm: no CUDA device (%s); nothing to measure. Run it on a GPU machine "
                "(tests/gpu/run.sh does).\n", cuda_unavailable_reason().c_str());
    return 0;
  }
#ifdef ALIBI_WITH_CUDA
  const int64_t IC = 2048, OC = 6144;  // C and 3 C of the 1.3B model
  const double flops = 2.0 * N * IC * OC, peak = cuda_bf16_peak_tflops();
  std::printf("cuBLAS, 1.3B QKV projection: (%lld x %lld) = (%lld x %lld) x (%lld x %lld)^T, %s "
              "(bf16 dense peak %s TFLOP/s)\n", (long long)N, (long long)OC, (long long)N, (long long)IC,
              (long long)OC, (long long)IC, cuda_device_name().c_str(),
              peak > 0 ? std::to_string((int)peak).c_str() : "unknown");
  std::printf("%-44s %10s %10s %8s\n", "product", "ms", "TFLOP/s", "% peak");

  std::mt19937 gen(1);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> inp(N * IC), w(OC * IC), dout(N * OC);
  for (float& x : inp) x = uni(gen);
  for (float& x : w) x = uni(gen);
  for (float& x : dout) x = uni(gen);
  Tensor d_inp = upload(inp), d_w = upload(w), d_dout = upload(dout);
  Tensor d_out = Tensor::empty({N * OC}, DType::f32, Device::cuda);
  Tensor d_dinp = Tensor::empty({N * IC}, DType::f32, Device::cuda);
  Tensor d_dw = Tensor::empty({OC * IC}, DType::f32, Device::cuda);
  bool ok = true;
  auto report = [&](const std::string& what, double s, double f) {
    std::printf("%-44s %10.3f %10.1f %8.1f\n", what.c_str(), s * 1e3, f / s * 1e-12,
                peak > 0 ? 100.0 * f / s * 1e-12 / peak : 0.0);
    std::fflush(stdout);
  };

  // The backend as training calls it: fp32 tensors, each compute type.
  const struct { MatmulPrecision p; const char* name; double tol; } modes[] = {
      {MatmulPrecision::bf16, "bf16 tensor cores", 5e-3},
      {MatmulPrecision::tf32, "tf32 tensor cores", 1.5e-3},
      {MatmulPrecision::fp32, "fp32 (exact)", 1e-5}};
  for (const auto& m : modes) {
    const double s = seconds_per_call([&] {
      cuda::linear_forward(d_out.data<float>(), d_inp.data<float>(), d_w.data<float>(), nullptr, N, IC, OC, m.p);
    });
    report(std::string("forward, fp32 storage, ") + m.name, s, flops);
    ok = check_samples(m.name, d_out, inp, w, N, IC, OC, m.tol) && ok;
  }
  const double bwd_s = seconds_per_call([&] {
    cuda::linear_backward(d_dinp.data<float>(), d_dw.data<float>(), nullptr, d_dout.data<float>(),
                          d_inp.data<float>(), d_w.data<float>(), N, IC, OC, MatmulPrecision::bf16);
  });
  report("backward (dinp + dW), fp32 storage, bf16", bwd_s, 2 * flops);

  // The ceiling: bf16 operands in memory (what bf16 activation storage would give).
  std::vector<__nv_bfloat16> inp16(inp.size()), w16(w.size());
  for (size_t i = 0; i < inp.size(); ++i) inp16[i] = __float2bfloat16(inp[i]);
  for (size_t i = 0; i < w.size(); ++i) w16[i] = __float2bfloat16(w[i]);
  Tensor d_inp16 = Tensor::empty({(int64_t)inp16.size()}, DType::u16, Device::cuda);  // bf16 bits
  Tensor d_w16 = Tensor::empty({(int64_t)w16.size()}, DType::u16, Device::cuda);
  copy_bytes(d_inp16.raw(), Device::cuda, inp16.data(), Device::cpu, inp16.size() * 2);
  copy_bytes(d_w16.raw(), Device::cuda, w16.data(), Device::cpu, w16.size() * 2);
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS ||
      cublasSetStream(h, static_cast<cudaStream_t>(cuda_stream())) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_gpu_gemm: cublasCreate failed (is libcublas.so.13 the one nvcc built against?)\n");
    return 1;
  }
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  const float alpha = 1.0f, beta = 0.0f;
  const double s16 = seconds_per_call([&] {  // as linear_forward: out^T (OC, N) = W (IC, OC)^T inp^T (IC, N)
    const cublasStatus_t s = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)OC, (int)N, (int)IC, &alpha, d_w16.raw(),
                                          CUDA_R_16BF, (int)IC, d_inp16.raw(), CUDA_R_16BF, (int)IC, &beta,
                                          d_out.raw(), CUDA_R_32F, (int)OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS) st = s;
  });
  cublasDestroy(h);
  if (st != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_gpu_gemm: cublasGemmEx with bf16 operands failed (status %d)\n", (int)st);
    return 1;
  }
  report("forward, bf16 operands (ceiling)", s16, flops);
  ok = check_samples("bf16 operands", d_out, inp, w, N, IC, OC, 5e-3) && ok;
  if (!ok) return 1;
#endif
  return 0;
}
