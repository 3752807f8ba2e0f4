// What every .cu file of the CUDA backend shares: error checks, the process stream, launch
// sizes, warp and block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/bf16.h"
#include "runtime/device.h"
#include "runtime/error.h"

// A failed CUDA runtime call (or kernel launch) is a DeviceError naming the call.
#define ALIBI_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    const cudaError_t alibi_cuda_err_ = (call);                                                  \
    ALIBI_CHECK_AS(DeviceError, alibi_cuda_err_ == cudaSuccess,                                  \
                   #call << " failed: " << cudaGetErrorString(alibi_cuda_err_) << " [" << __FILE__ \
                         << ":" << __LINE__ << "]");                                             \
  } while (0)
#define ALIBI_CUDA_LAUNCHED() ALIBI_CUDA_CHECK(cudaGetLastError())

namespace alibi::cuda {

inline cudaStream_t stream() { return static_cast<cudaStream_t>(cuda_stream()); }

inline unsigned blocks_for(int64_t n, int threads, int64_t max_blocks = 65535LL * 16) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < max_blocks ? b : max_blocks);
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
template <class T>
__device__ inline T block_sum(T v) {
  __shared__ T partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T r = lane < warps ? partial[lane] : T(0);
  return warp_sum(r);
}

__device__ inline float block_max(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float r = lane < warps ? partial[lane] : -INFINITY;
  return warp_max(r);
}

// An output element stored as fp32, or as its bf16 bits (the products' rounding, kernels/bf16.h):
// the kernels whose outputs feed only matrix products write them in bf16 under bf16 precision.
__device__ inline void store(float* p, float v) { *p = v; }
__device__ inline void store(uint16_t* p, float v) { *p = bf16_bits(v); }

}  // namespace alibi::cuda
