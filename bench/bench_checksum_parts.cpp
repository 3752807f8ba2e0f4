// Where a checksummed checkpoint load spends its extra time, part by part, in CPU seconds
// per 354 MB (the bench model's checkpoint, bench_checkpoint.cpp), so the numbers hold on
// a shared box: HDF5's Fletcher32 over 1 MiB chunks, the copy out of HDF5's chunk buffer
// (memcpy), and the finiteness scan of the loaded floats as checkpoint.cpp did it before
// (std::isfinite with an early exit, numel() out of line per element) and does it now.
// Usage: bench_checksum_parts [ROUNDS]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "runtime/tensor.h"

// HDF5's own Fletcher32 (H5checksum.c), the one its filter runs; exported, not in a header.
extern "C" uint32_t H5_checksum_fletcher32(const void* data, size_t len);

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// checkpoint.cpp's scan before this change.
__attribute__((noinline)) int64_t scan_before(const alibi::Tensor& host) {
  const float* p = static_cast<const float*>(host.raw());
  for (int64_t i = 0; i < host.numel(); ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

// checkpoint.cpp's scan now (first_non_finite's first pass).
__attribute__((noinline)) int64_t scan_after(const alibi::Tensor& host) {
  const uint32_t* bits = static_cast<const uint32_t*>(host.raw());
  const int64_t n = host.numel();
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) any |= static_cast<uint32_t>((bits[i] & 0x7f800000u) == 0x7f800000u);
  return any ? 0 : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::stoi(argv[1]) : 3;
  const int64_t n = 88'500'000;  // floats: 354 MB
  alibi::Tensor a = alibi::Tensor::empty({n / 500, 500}, alibi::DType::f32);
  std::vector<float> copy(static_cast<size_t>(n));
  float* p = a.data<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = 0.01f * static_cast<float>(i % 97);
  const size_t chunk = size_t{1} << 20, bytes = static_cast<size_t>(n) * 4;
  for (int r = 0; r < rounds; ++r) {
    double t = cpu_seconds();
    volatile int64_t before = scan_before(a);
    const double t_before = cpu_seconds() - t;
    t = cpu_seconds();
    volatile int64_t after = scan_after(a);
    const double t_after = cpu_seconds() - t;
    t = cpu_seconds();
    uint32_t sum = 0;
    for (size_t o = 0; o < bytes; o += chunk)
      sum ^= H5_checksum_fletcher32(reinterpret_cast<const char*>(p) + o, std::min(chunk, bytes - o));
    const double t_fletcher = cpu_seconds() - t;
    t = cpu_seconds();
    std::memcpy(copy.data(), p, bytes);
    const double t_copy = cpu_seconds() - t;
    std::printf("CPU s per 354 MB: fletcher32 %.3f  chunk copy %.3f  finiteness scan before %.3f after %.3f  (%x %d %d)\n",
                t_fletcher, t_copy, t_before, t_after, sum, before < 0, after < 0);
  }
}
