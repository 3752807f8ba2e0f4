// Elementwise kernels, the optimizer and reductions on the GPU. The formulas are the
// shared host+device functions of kernels/elementwise.h, so the CPU tests check them.
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/elementwise.h"

namespace alibi::cuda {

namespace {

constexpr int kThreads = 256;

#define ALIBI_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)

__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
  ALIBI_GRID_STRIDE(i, n) out[i] = gelu(inp[i]);
}

__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, int64_t n) {
  ALIBI_GRID_STRIDE(i, n) dinp[i] = dout[i] * gelu_grad(inp[i]);
}

__global__ void add_kernel(float* out, const float* a, const float* b, int64_t n) {
  ALIBI_GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  ALIBI_GRID_STRIDE(i, n) x[i] *= s;
}

__global__ void adamw_kernel(float* param, const float* grad, float* m, float* v, int64_t n, AdamWParams<float> hp) {
  ALIBI_GRID_STRIDE(i, n) {
    float p = param[i], mi = m[i], vi = v[i];
    adamw_element(p, grad[i], mi, vi, hp);
    param[i] = p;
    m[i] = mi;
    v[i] = vi;
  }
}

__global__ void add_position_rows_kernel(float* x, const float* table, int64_t rows, int64_t T, int64_t C, float scale) {
  ALIBI_GRID_STRIDE(i, rows * C) {
    const int64_t t = (i / C) % T, c = i % C;
    x[i] = scale * x[i] + table[t * C + c];
  }
}

// dtable (T, C) += sum_b dx[b, t]: one thread per (t, c), b in order (deterministic).
__global__ void position_rows_backward_kernel(float* dtable, const float* dx, int64_t B, int64_t T, int64_t C) {
  ALIBI_GRID_STRIDE(i, T * C) {
    float s = 0.0f;
    for (int64_t b = 0; b < B; ++b) s += dx[b * T * C + i];
    dtable[i] += s;
  }
}

// Per-block partial sums (of x or x^2) in double; the host adds the partials in order.
constexpr int kReduceBlocks = 256;
template <bool kSquare>
__global__ void partial_sums_kernel(double* partials, const float* x, int64_t n) {
  double s = 0.0;
  ALIBI_GRID_STRIDE(i, n) {
    const double v = x[i];
    s += kSquare ? v * v : v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

template <bool kSquare>
double reduce(const float* x, int64_t n) {
  if (n == 0) return 0.0;
  Tensor partials = Tensor::empty({kReduceBlocks}, DType::f64, Device::cuda);
  partial_sums_kernel<kSquare><<<kReduceBlocks, kThreads, 0, stream()>>>(partials.data<double>(), x, n);
  ALIBI_CUDA_LAUNCHED();
  std::vector<double> host(kReduceBlocks);
  copy_bytes(host.data(), Device::cpu, partials.data<double>(), Device::cuda, kReduceBlocks * sizeof(double));
  double total = 0.0;
  for (double p : host) total += p;
  return total;
}

// Sum of squares of many tensors: block (x, y) takes a grid-stride share of tensor y and writes
// one partial; one block then adds every partial (thread t: t, t + 256, ...; then the block's
// fixed-order reduction). Launched once for all of a model's gradients.
struct Segment {
  const float* x;
  int64_t n;
};
constexpr int kSegmentBlocks = 32;  // per tensor: gradients are 1e3 .. 1e8 elements

__global__ void segment_squares_kernel(double* partials, const Segment* segments) {
  const Segment seg = segments[blockIdx.y];
  double s = 0.0;
  ALIBI_GRID_STRIDE(i, seg.n) {
    const double v = seg.x[i];
    s += v * v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.y * int64_t{gridDim.x} + blockIdx.x] = s;
}

__global__ void sum_partials_kernel(double* total, const double* partials, int64_t n) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partials[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *total = s;
}

}  // namespace

void gelu_forward(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  gelu_forward_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, inp, n);
  ALIBI_CUDA_LAUNCHED();
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(dinp, inp, dout, n);
  ALIBI_CUDA_LAUNCHED();
}

void add(float* out, const float* a, const float* b, int64_t n) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, a, b, n);
  ALIBI_CUDA_LAUNCHED();
}

void scale_inplace(float* x, int64_t n, float s) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x, n, s);
  ALIBI_CUDA_LAUNCHED();
}

void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t step) {
  if (n == 0) return;
  const AdamWParams<float> hp = adamw_params<float>(lr, beta1, beta2, eps, weight_decay, step);
  adamw_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(param, grad, m, v, n, hp);
  ALIBI_CUDA_LAUNCHED();
}

void add_position_rows(float* x, const float* table, int64_t B, int64_t T, int64_t C, float scale) {
  if (B * T * C == 0) return;
  add_position_rows_kernel<<<blocks_for(B * T * C, kThreads), kThreads, 0, stream()>>>(x, table, B * T, T, C, scale);
  ALIBI_CUDA_LAUNCHED();
}

void position_rows_backward(float* dtable, const float* dx, int64_t B, int64_t T, int64_t C) {
  if (T * C == 0) return;
  position_rows_backward_kernel<<<blocks_for(T * C, kThreads), kThreads, 0, stream()>>>(dtable, dx, B, T, C);
  ALIBI_CUDA_LAUNCHED();
}

double sum_squares(const float* x, int64_t n) { return reduce<true>(x, n); }
double sum(const float* x, int64_t n) { return reduce<false>(x, n); }

double sum_squares_many(const float* const* xs, const int64_t* ns, int count) {
  if (count == 0) return 0.0;
  ALIBI_CHECK(count <= 65535, "sum_squares_many over " << count << " tensors: at most 65535 (one grid row each)");
  std::vector<Segment> host(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) host[static_cast<size_t>(i)] = {xs[i], ns[i]};
  static_assert(sizeof(Segment) == 2 * sizeof(int64_t), "Segment is staged as two int64 words");
  Tensor segments = Tensor::empty({2 * int64_t{count}}, DType::i64, Device::cuda);
  // Pageable source: the copy is staged before cudaMemcpyAsync returns, so `host` may go.
  ALIBI_CUDA_CHECK(cudaMemcpyAsync(segments.raw(), host.data(), host.size() * sizeof(Segment), cudaMemcpyHostToDevice,
                                   stream()));
  const int64_t n_partials = int64_t{count} * kSegmentBlocks;
  Tensor partials = Tensor::empty({n_partials + 1}, DType::f64, Device::cuda);  // the last: the total
  double* p = partials.data<double>();
  segment_squares_kernel<<<dim3(kSegmentBlocks, static_cast<unsigned>(count)), kThreads, 0, stream()>>>(
      p, static_cast<const Segment*>(segments.raw()));
  ALIBI_CUDA_LAUNCHED();
  sum_partials_kernel<<<1, kThreads, 0, stream()>>>(p + n_partials, p, n_partials);
  ALIBI_CUDA_LAUNCHED();
  double total = 0.0;
  copy_bytes(&total, Device::cpu, p + n_partials, Device::cuda, sizeof(double));  // the one wait
  return total;
}

}  // namespace alibi::cuda
