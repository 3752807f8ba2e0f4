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

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

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

// Time spent in spans of work on a device, for the wait timers (pipeline receives, DP
// all-reduce waits). On the CPU a span is host time: the blocking call is the wait. On CUDA
// the calls only enqueue (an NCCL receive or a stream wait returns at once), so a span is
// the compute stream's time between CUDA events recorded at begin() and end(). seconds()
// sums the spans since reset(); on CUDA it first waits for the stream to pass the last one.
//
//   StreamTimer t;  t.begin(Device::cuda);  pp.recv(...);  t.end();  ...  t.seconds();
class StreamTimer {
 public:
  StreamTimer() = default;
  ~StreamTimer();
  StreamTimer(const StreamTimer&) = delete;
  StreamTimer& operator=(const StreamTimer&) = delete;

  void begin(Device device);  // the device of the work in the span (the first call decides)
  void end();
  double seconds();
  void reset();

 private:
  Device device_ = Device::cpu;
  bool started_ = false;
  std::chrono::steady_clock::time_point host_begin_;
  double host_s_ = 0;
  std::vector<void*> events_;  // CUDA: begin, end, begin, end ... (kept across resets)
  size_t used_ = 0;
};

}  // namespace alibi
