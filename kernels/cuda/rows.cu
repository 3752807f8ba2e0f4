// Row kernels on the GPU: embedding lookup and its scatter-add, LayerNorm, and the
// vocabulary-parallel cross-entropy pieces. One warp or block per row; row statistics
// in fp32 with warp shuffles (double for the softmax sums, as on the CPU). Element
// formulas from kernels/elementwise.h.
#include <algorithm>
#include <vector>

#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/elementwise.h"

namespace alibi::cuda {

namespace {

constexpr float kLayerNormEps = 1e-5f;

// A host int array on the device, for one call (pageable copy: returns once staged).
Tensor upload(const int32_t* host, int64_t n) {
  Tensor t = Tensor::empty({n}, DType::i32, Device::cuda);
  ALIBI_CUDA_CHECK(cudaMemcpyAsync(t.data<int32_t>(), host, static_cast<size_t>(n) * sizeof(int32_t),
                                   cudaMemcpyHostToDevice, stream()));
  return t;
}

// ---- embedding -----------------------------------------------------------------------------
__global__ void embedding_forward_kernel(float* out, const int32_t* tokens, const float* wte, int64_t N, int64_t C) {
  const int64_t n = blockIdx.x;
  const int32_t tok = tokens[n];
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[n * C + c] = tok < 0 ? 0.0f : wte[int64_t{tok} * C + c];
}

// Block u sums the rows of distinct token tok[u] at positions pos[start[u] .. start[u+1])
// in position order and adds them to its dwte row: deterministic, no atomics.
__global__ void embedding_backward_kernel(float* dwte, const float* dout, const int32_t* tok, const int32_t* start,
                                          const int32_t* pos, int64_t C) {
  const int u = blockIdx.x;
  const int64_t row = tok[u];
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float s = 0.0f;
    for (int32_t k = start[u]; k < start[u + 1]; ++k) s += dout[int64_t{pos[k]} * C + c];
    dwte[row * C + c] += s;
  }
}

// ---- LayerNorm: one warp per row -------------------------------------------------------------
// Normalises row x (C) into o (fp32, or bf16 bits: store()), from this warp's lanes (lane
// c % 32 handles channel c: the fused kernel below relies on each lane reading back only what
// it wrote itself).
template <class Out>
__device__ void layernorm_row(Out* o, float* mean, float* rstd, const float* x, const float* w, const float* b,
                              int64_t C) {
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += 32) s += x[c];
  const float mu = warp_sum(s) / static_cast<float>(C);
  float sq = 0.0f;  // two passes, as on the CPU: no cancellation when |mean| >> std
  for (int64_t c = threadIdx.x; c < C; c += 32) {
    const float d = x[c] - mu;
    sq += d * d;
  }
  const float r = rsqrtf(warp_sum(sq) / static_cast<float>(C) + kLayerNormEps);
  for (int64_t c = threadIdx.x; c < C; c += 32) store(o + c, layernorm_element(x[c], mu, r, w[c], b[c]));
  if (threadIdx.x == 0) {
    *mean = mu;
    *rstd = r;
  }
}

template <class Out>
__global__ void layernorm_forward_kernel(Out* out, float* mean, float* rstd, const float* inp, const float* w,
                                         const float* b, int64_t N, int64_t C) {
  const int64_t n = blockIdx.x * int64_t{blockDim.y} + threadIdx.y;
  if (n >= N) return;
  layernorm_row(out + n * C, mean + n, rstd + n, inp + n * C, w, b, C);
}

// residual = a + b, then its LayerNorm: the residual row is written and read back by the same
// lanes (no other thread touches it), so it leaves the SM once instead of twice plus a read.
template <class Out>
__global__ void add_layernorm_forward_kernel(float* residual, Out* out, float* mean, float* rstd, const float* a,
                                             const float* b, const float* w, const float* bias, int64_t N, int64_t C) {
  const int64_t n = blockIdx.x * int64_t{blockDim.y} + threadIdx.y;
  if (n >= N) return;
  float* r = residual + n * C;
  for (int64_t c = threadIdx.x; c < C; c += 32) r[c] = a[n * C + c] + b[n * C + c];
  layernorm_row(out + n * C, mean + n, rstd + n, r, w, bias, C);
}

__global__ void layernorm_backward_dx_kernel(float* dinp, const float* dout, const float* inp, const float* w,
                                             const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int64_t n = blockIdx.x * int64_t{blockDim.y} + threadIdx.y;
  if (n >= N) return;
  const float* x = inp + n * C;
  const float* dy = dout + n * C;
  const float m = mean[n], r = rstd[n];
  float g_sum = 0.0f, gx_sum = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += 32) {
    const float g = w[c] * dy[c];
    g_sum += g;
    gx_sum += g * ((x[c] - m) * r);
  }
  const float g_mean = warp_sum(g_sum) / static_cast<float>(C);
  const float gx_mean = warp_sum(gx_sum) / static_cast<float>(C);
  float* dx = dinp + n * C;
  for (int64_t c = threadIdx.x; c < C; c += 32) dx[c] += layernorm_dx(w[c] * dy[c], (x[c] - m) * r, r, g_mean, gx_mean);
}

// LayerNorm's parameter gradients' terms for column_sums: dout * xhat (weight) and dout (bias).
struct LayerNormColumns {
  const float *dout, *inp, *mean, *rstd;
  int64_t C;
  __device__ void operator()(int64_t n, int64_t c, float* s) const {
    const float dy = dout[n * C + c];
    s[0] += dy * ((inp[n * C + c] - mean[n]) * rstd[n]);
    s[1] += dy;
  }
};

// ---- vocabulary-parallel cross-entropy: one block per row --------------------------------------
constexpr int kRowThreads = 256;

__global__ void row_max_kernel(float* row_max, const float* logits, int64_t V, int64_t ld) {
  const float* x = logits + blockIdx.x * ld;
  float m = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, x[v]);
  m = block_max(m);
  if (threadIdx.x == 0) row_max[blockIdx.x] = m;
}

__global__ void partials_kernel(double* sum_exp, double* target_logit, const float* logits, const float* row_max,
                                const int32_t* targets, int64_t v0, int64_t V, int64_t ld) {
  const int64_t n = blockIdx.x;
  const float* x = logits + n * ld;
  const float m = row_max[n];
  double s = 0.0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) s += static_cast<double>(expf(x[v] - m));
  s = block_sum(s);
  if (threadIdx.x == 0) {
    sum_exp[n] = s;
    const int64_t local = int64_t{targets[n]} - v0;
    target_logit[n] = targets[n] >= 0 && local >= 0 && local < V ? static_cast<double>(x[local]) : 0.0;
  }
}

__global__ void losses_kernel(float* losses, const double* sum_exp, const double* target_logit, const float* row_max,
                              const int32_t* targets, int64_t N) {
  const int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (n >= N) return;
  losses[n] = targets[n] < 0 ? 0.0f
                             : static_cast<float>(cross_entropy_loss(sum_exp[n], target_logit[n], row_max[n]));
}

__global__ void ce_backward_kernel(float* dlogits, const float* logits, const float* row_max, const double* sum_exp,
                                   const int32_t* targets, int64_t v0, int64_t V, int64_t ld, float scale) {
  const int64_t n = blockIdx.x;
  const float* x = logits + n * ld;
  float* dx = dlogits + n * ld;
  for (int64_t v = V + threadIdx.x; v < ld; v += blockDim.x) dx[v] = 0.0f;  // the padding's gradient: none
  if (targets[n] < 0) {
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) dx[v] = 0.0f;
    return;
  }
  const float m = row_max[n];
  const float inv = static_cast<float>(1.0 / sum_exp[n]);
  const int64_t local = int64_t{targets[n]} - v0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) dx[v] = cross_entropy_grad(x[v], m, inv, scale, v == local);
}

}  // namespace

void embedding_forward(float* out, const int32_t* host_tokens, const float* wte, int64_t N, int64_t C) {
  if (N == 0) return;
  Tensor tokens = upload(host_tokens, N);
  embedding_forward_kernel<<<static_cast<unsigned>(N), 256, 0, stream()>>>(out, tokens.data<int32_t>(), wte, N, C);
  ALIBI_CUDA_LAUNCHED();
}

void embedding_backward(float* dwte, const float* dout, const int32_t* host_tokens, int64_t N, int64_t C) {
  // Group positions by token on the host (tokens live there): CSR of distinct tokens.
  std::vector<int32_t> order;
  order.reserve(N);
  for (int64_t i = 0; i < N; ++i)
    if (host_tokens[i] >= 0) order.push_back(static_cast<int32_t>(i));
  if (order.empty()) return;
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return host_tokens[a] < host_tokens[b]; });
  std::vector<int32_t> tok, start;
  for (size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || host_tokens[order[k]] != host_tokens[order[k - 1]]) {
      tok.push_back(host_tokens[order[k]]);
      start.push_back(static_cast<int32_t>(k));
    }
  }
  start.push_back(static_cast<int32_t>(order.size()));
  Tensor d_tok = upload(tok.data(), static_cast<int64_t>(tok.size()));
  Tensor d_start = upload(start.data(), static_cast<int64_t>(start.size()));
  Tensor d_pos = upload(order.data(), static_cast<int64_t>(order.size()));
  embedding_backward_kernel<<<static_cast<unsigned>(tok.size()), 256, 0, stream()>>>(
      dwte, dout, d_tok.data<int32_t>(), d_start.data<int32_t>(), d_pos.data<int32_t>(), C);
  ALIBI_CUDA_LAUNCHED();
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, uint16_t* out_bf16) {
  if (N == 0) return;
  const dim3 block(32, 8);
  const unsigned grid = static_cast<unsigned>((N + 7) / 8);
  if (out_bf16 != nullptr)
    layernorm_forward_kernel<uint16_t><<<grid, block, 0, stream()>>>(out_bf16, mean, rstd, inp, weight, bias, N, C);
  else
    layernorm_forward_kernel<float><<<grid, block, 0, stream()>>>(out, mean, rstd, inp, weight, bias, N, C);
  ALIBI_CUDA_LAUNCHED();
}

void add_layernorm_forward(float* residual, float* out, float* mean, float* rstd, const float* a, const float* b,
                           const float* weight, const float* bias, int64_t N, int64_t C, uint16_t* out_bf16) {
  if (N == 0) return;
  const unsigned grid = static_cast<unsigned>((N + 7) / 8);
  if (out_bf16 != nullptr)
    add_layernorm_forward_kernel<uint16_t><<<grid, dim3(32, 8), 0, stream()>>>(residual, out_bf16, mean, rstd, a, b,
                                                                               weight, bias, N, C);
  else
    add_layernorm_forward_kernel<float><<<grid, dim3(32, 8), 0, stream()>>>(residual, out, mean, rstd, a, b, weight,
                                                                            bias, N, C);
  ALIBI_CUDA_LAUNCHED();
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
  if (N == 0) return;
  layernorm_backward_dx_kernel<<<static_cast<unsigned>((N + 7) / 8), dim3(32, 8), 0, stream()>>>(dinp, dout, inp, weight, mean,
                                                                                                rstd, N, C);
  ALIBI_CUDA_LAUNCHED();
  column_sums<2>(dweight, dbias, N, C, LayerNormColumns{dout, inp, mean, rstd, C});  // two stages, over rows
}

void vocab_ce_row_max(float* row_max, const float* logits, int64_t N, int64_t V, int64_t ld) {
  if (N == 0) return;
  row_max_kernel<<<static_cast<unsigned>(N), kRowThreads, 0, stream()>>>(row_max, logits, V, ld);
  ALIBI_CUDA_LAUNCHED();
}

void vocab_ce_partials(double* sum_exp, double* target_logit, const float* logits, const float* row_max,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld) {
  if (N == 0) return;
  Tensor targets = upload(host_targets, N);
  partials_kernel<<<static_cast<unsigned>(N), kRowThreads, 0, stream()>>>(sum_exp, target_logit, logits, row_max,
                                                                           targets.data<int32_t>(), v0, V, ld);
  ALIBI_CUDA_LAUNCHED();
}

void vocab_ce_losses(float* losses, const double* sum_exp, const double* target_logit, const float* row_max,
                     const int32_t* host_targets, int64_t N) {
  if (N == 0) return;
  Tensor targets = upload(host_targets, N);
  losses_kernel<<<blocks_for(N, 256), 256, 0, stream()>>>(losses, sum_exp, target_logit, row_max, targets.data<int32_t>(), N);
  ALIBI_CUDA_LAUNCHED();
}

void vocab_ce_backward(float* dlogits, const float* logits, const float* row_max, const double* sum_exp,
                       const int32_t* host_targets, int64_t v0, int64_t N, int64_t V, int64_t ld, float scale) {
  if (N == 0) return;
  Tensor targets = upload(host_targets, N);
  ce_backward_kernel<<<static_cast<unsigned>(N), kRowThreads, 0, stream()>>>(dlogits, logits, row_max, sum_exp,
                                                                             targets.data<int32_t>(), v0, V, ld, scale);
  ALIBI_CUDA_LAUNCHED();
}

}  // namespace alibi::cuda
