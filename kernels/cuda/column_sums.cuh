// Column sums of an (N, C) row-major matrix in two stages split over rows: the gradients of
// a bias (the sum of dout over rows) and of LayerNorm's weight and bias. One block per 32
// columns walking all N rows (the old kernels) leaves most of the GPU idle when C is small
// and N is B*T; here stage 1 gives each block 32 columns x one chunk of rows and writes one
// partial per (chunk, column), and stage 2 adds a column's partials in chunk order.
// Deterministic: fixed chunks, a fixed order inside a block and between chunks.
//
//   column_sums<1>(dbias, nullptr, N, C, BiasColumn{dout, C});   // dbias += sum over rows
#pragma once

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace alibi::cuda {

constexpr int64_t kColumnChunkRows = 64;  // rows per chunk (8 per row lane) when N allows
constexpr int64_t kColumnMaxChunks = 1024;
constexpr int kColumnRowLanes = 8;

// Stage 1: block (x, y) sums, for columns 32x .. 32x + 31, `element` over rows of chunk y
// into K partials each: partials[(k * chunks + y) * C + c]. `element(n, c, s)` adds row n's
// terms to s[0 .. K).
template <int K, class Element>
__global__ void column_partials_kernel(float* partials, int64_t N, int64_t C, int64_t rows_per_chunk, Element element) {
  __shared__ float lanes[K][kColumnRowLanes][33];
  const int64_t c = blockIdx.x * int64_t{32} + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t first = chunk * rows_per_chunk;
  const int64_t last = first + rows_per_chunk < N ? first + rows_per_chunk : N;
  float s[K];
  for (int k = 0; k < K; ++k) s[k] = 0.0f;
  if (c < C) {
    for (int64_t n = first + threadIdx.y; n < last; n += kColumnRowLanes) element(n, c, s);
  }
  for (int k = 0; k < K; ++k) lanes[k][threadIdx.y][threadIdx.x] = s[k];
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int k = 0; k < K; ++k) {
      float t = 0.0f;
      for (int r = 0; r < kColumnRowLanes; ++r) t += lanes[k][r][threadIdx.x];
      partials[(k * int64_t{gridDim.y} + chunk) * C + c] = t;
    }
  }
}

// Stage 2: dst_k[c] += the chunks' partials of column c, in chunk order.
template <int K>
__global__ void column_finish_kernel(float* dst0, float* dst1, const float* partials, int64_t chunks, int64_t C) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C; c += int64_t{gridDim.x} * blockDim.x) {
    for (int k = 0; k < K; ++k) {
      float t = 0.0f;
      for (int64_t j = 0; j < chunks; ++j) t += partials[(k * chunks + j) * C + c];
      (k == 0 ? dst0 : dst1)[c] += t;
    }
  }
}

// dst0 (and dst1 when K == 2) += the column sums of `element` over N rows of C columns.
template <int K, class Element>
void column_sums(float* dst0, float* dst1, int64_t N, int64_t C, Element element) {
  if (N == 0 || C == 0) return;
  const int64_t chunks = std::min(kColumnMaxChunks, (N + kColumnChunkRows - 1) / kColumnChunkRows);
  const int64_t rows_per_chunk = (N + chunks - 1) / chunks;
  Tensor partials = Tensor::empty({K * chunks * C}, DType::f32, Device::cuda);
  const dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>(chunks));
  column_partials_kernel<K><<<grid, dim3(32, kColumnRowLanes), 0, stream()>>>(partials.data<float>(), N, C,
                                                                                rows_per_chunk, element);
  ALIBI_CUDA_LAUNCHED();
  column_finish_kernel<K><<<blocks_for(C, 256), 256, 0, stream()>>>(dst0, dst1, partials.data<float>(), chunks, C);
  ALIBI_CUDA_LAUNCHED();
}

// A bias gradient's terms: dout[n, c].
struct BiasColumn {
  const float* dout;
  int64_t C;
  __device__ void operator()(int64_t n, int64_t c, float* s) const { s[0] += dout[n * C + c]; }
};

}  // namespace alibi::cuda
