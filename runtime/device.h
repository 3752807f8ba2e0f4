// The CUDA device as the runtime sees it: is there one, which one this rank uses, and
// device memory (a caching allocator like the CPU one) and copies. Everything here builds
// without CUDA (ALIBI_WITH_CUDA undefined): then no device exists and asking for one is a
// DeviceError naming the fix.
//
//   require_cuda_device("--device cuda");          // throws "no CUDA device: ..." when none
//   select_cuda_device(local_rank);                // one GPU per rank, by node-local rank
//   void* p = cuda_allocate(bytes); ... cuda_deallocate(p, bytes);
//   copy_bytes(dst, Device::cuda, src, Device::cpu, bytes);   // any direction, synchronous
//
// Every kernel, cuBLAS call and NCCL collective of a process is ordered on one stream,
// cuda_stream(), a non-blocking one (not ordered with the legacy default stream: never use
// synchronous cudaMemcpy/cudaMemset on our buffers); copy_bytes and cuda_synchronize wait
// for it.
#pragma once

#include <cstddef>
#include <string>

#include "runtime/allocator.h"
#include "runtime/tensor.h"

namespace alibi {

// True when this build has the CUDA backend (nvcc was found at configure time).
bool cuda_built();
// Usable CUDA devices; 0 without a driver, without a GPU, or in a CPU-only build.
int cuda_device_count();
// Why there is no device (the CUDA runtime's message), or "" when there is one.
std::string cuda_unavailable_reason();
// Throws DeviceError "no CUDA device (<reason>): <what> needs one; run with --device cpu".
void require_cuda_device(const std::string& what);
// cudaSetDevice(local_rank % count); returns the device index chosen.
int select_cuda_device(int local_rank);
// The device's name ("NVIDIA H100 80GB HBM3") and its bf16 dense tensor-core peak in
// TFLOP/s when known (0 when not), for MFU reports.
std::string cuda_device_name();
double cuda_bf16_peak_tflops();

void* cuda_allocate(size_t bytes);
void cuda_deallocate(void* ptr, size_t bytes);
AllocatorStats cuda_allocator_stats();
void cuda_reset_peak();

// cudaStream_t of this process, as void* so that C++ callers need no CUDA headers.
void* cuda_stream();
void cuda_synchronize();
// Synchronous copy of `bytes` between any two devices (cpu <-> cpu is memcpy).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void zero_bytes(void* ptr, Device device, size_t bytes);
// Device-to-device copies only enqueued on cuda_stream() (no wait); any other pair is
// copy_bytes.
void copy_bytes_async(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace alibi
