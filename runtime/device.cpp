// CUDA runtime calls behind runtime/device.h; without ALIBI_WITH_CUDA, a CPU-only build.
#include "runtime/device.h"

#include <cstring>

#include "runtime/best_fit_allocator.h"
#include "runtime/error.h"

#ifdef ALIBI_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace alibi {

// ---- StreamTimer: host clock on the CPU, CUDA events on the stream ---------------------------

// Its CUDA side, defined below for each build.
void record_event(std::vector<void*>& events, size_t index);
double event_spans_s(const std::vector<void*>& events, size_t used);
void destroy_events(std::vector<void*>& events);

void StreamTimer::begin(Device device) {
  if (!started_) device_ = device;
  started_ = true;
  if (device_ == Device::cpu) {
    host_begin_ = std::chrono::steady_clock::now();
    return;
  }
  record_event(events_, used_++);
}

void StreamTimer::end() {
  if (device_ == Device::cpu) {
    host_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - host_begin_).count();
    return;
  }
  record_event(events_, used_++);
}

double StreamTimer::seconds() { return device_ == Device::cpu ? host_s_ : event_spans_s(events_, used_); }

void StreamTimer::reset() {
  host_s_ = 0;
  used_ = 0;
}

StreamTimer::~StreamTimer() { destroy_events(events_); }

void require_cuda_device(const std::string& what) {
  ALIBI_CHECK_AS(DeviceError, cuda_device_count() > 0,
                 "no CUDA device (" << cuda_unavailable_reason() << "): " << what
                                    << " needs one; run with --device cpu, or on a machine with an NVIDIA GPU");
}

#ifdef ALIBI_WITH_CUDA

#define ALIBI_CUDA_RT(call)                                                                         \
  do {                                                                                              \
    const cudaError_t alibi_err_ = (call);                                                          \
    ALIBI_CHECK_AS(DeviceError, alibi_err_ == cudaSuccess, #call << " failed: " << cudaGetErrorString(alibi_err_)); \
  } while (0)

bool cuda_built() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string cuda_unavailable_reason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (err == cudaErrorInsufficientDriver)  // also what a machine without any NVIDIA driver reports
      return "no NVIDIA driver, or one too old for this CUDA runtime";
    if (err == cudaErrorNoDevice) return "no NVIDIA GPU is visible; check CUDA_VISIBLE_DEVICES";
    return cudaGetErrorString(err);
  }
  return n == 0 ? "the CUDA runtime sees 0 devices" : "";
}

int select_cuda_device(int local_rank) {
  require_cuda_device("--device cuda");
  const int device = local_rank % cuda_device_count();
  ALIBI_CUDA_RT(cudaSetDevice(device));
  return device;
}

std::string cuda_device_name() {
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "";
  return prop.name;
}

double cuda_bf16_peak_tflops() {
  const std::string name = cuda_device_name();
  // Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's data sheets.
  if (name.find("H100") != std::string::npos) return name.find("PCIe") != std::string::npos ? 756.0 : 989.0;
  if (name.find("H200") != std::string::npos || name.find("GH200") != std::string::npos) return 989.0;
  if (name.find("A100") != std::string::npos) return 312.0;
  return 0.0;
}

namespace {
// Device memory through the best-fit caching allocator (runtime/best_fit_allocator.h):
// cudaMalloc and cudaFree synchronise the device, so memory is held in segments, split into
// blocks and kept for the next step; a miss takes a new segment without flushing the cache.
class CudaAllocator final : public BestFitAllocator {
 public:
  static CudaAllocator& instance() {
    static CudaAllocator* a = new CudaAllocator();  // never destroyed: the driver may be gone at exit
    return *a;
  }

 private:
  CudaAllocator() = default;
  void* system_allocate(size_t bytes) override {
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear it: the caller retries after releasing the cache
      return nullptr;
    }
    return ptr;
  }
  void system_free(void* ptr) override { cudaFree(ptr); }
  void before_release() override { cudaDeviceSynchronize(); }
  void out_of_memory(size_t bytes, const AllocatorStats& stats) override {
    ALIBI_CHECK_AS(DeviceError, false,
                   "out of GPU memory allocating " << bytes << " bytes (" << stats.bytes_in_use
                                                   << " in use): use a smaller --micro-batch or --seq-len, "
                                                      "or more --tp/--pp");
    throw;  // not reached
  }
};
}  // namespace

void* cuda_allocate(size_t bytes) { return CudaAllocator::instance().allocate(bytes); }
void cuda_deallocate(void* ptr, size_t bytes) { CudaAllocator::instance().deallocate(ptr, bytes); }
AllocatorStats cuda_allocator_stats() { return CudaAllocator::instance().stats(); }
void cuda_reset_peak() { CudaAllocator::instance().reset_peak(); }

void* cuda_stream() {
  static cudaStream_t stream = [] {
    cudaStream_t s = nullptr;
    // Non-blocking: no implicit ordering with the legacy default stream, which a library
    // (or a stray synchronous cudaMemcpy) could otherwise serialise us behind. Everything
    // of ours is enqueued on this stream, and host reads go through copy_bytes, which
    // waits for it.
    ALIBI_CUDA_RT(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }();
  return stream;
}

void record_event(std::vector<void*>& events, size_t index) {
  if (index == events.size()) {
    cudaEvent_t e = nullptr;
    ALIBI_CUDA_RT(cudaEventCreate(&e));  // with timing
    events.push_back(e);
  }
  ALIBI_CUDA_RT(cudaEventRecord(static_cast<cudaEvent_t>(events[index]), static_cast<cudaStream_t>(cuda_stream())));
}

double event_spans_s(const std::vector<void*>& events, size_t used) {
  if (used == 0) return 0.0;
  ALIBI_CHECK(used % 2 == 0, "StreamTimer: begin() without end()");
  ALIBI_CUDA_RT(cudaEventSynchronize(static_cast<cudaEvent_t>(events[used - 1])));
  double total_ms = 0;
  for (size_t i = 0; i < used; i += 2) {
    float ms = 0;
    ALIBI_CUDA_RT(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(events[i]), static_cast<cudaEvent_t>(events[i + 1])));
    total_ms += ms;
  }
  return total_ms / 1000.0;
}

void destroy_events(std::vector<void*>& events) {
  for (void* e : events) cudaEventDestroy(static_cast<cudaEvent_t>(e));  // never throws: a destructor's
  events.clear();
}

void cuda_synchronize() { ALIBI_CUDA_RT(cudaStreamSynchronize(static_cast<cudaStream_t>(cuda_stream()))); }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == Device::cpu && src_device == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const cudaMemcpyKind kind = dst_device == Device::cpu   ? cudaMemcpyDeviceToHost
                              : src_device == Device::cpu ? cudaMemcpyHostToDevice
                                                          : cudaMemcpyDeviceToDevice;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream());
  ALIBI_CUDA_RT(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  ALIBI_CUDA_RT(cudaStreamSynchronize(stream));
}

void copy_bytes_async(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device != Device::cuda || src_device != Device::cuda) return copy_bytes(dst, dst_device, src, src_device, bytes);
  ALIBI_CUDA_RT(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(cuda_stream())));
}

void zero_bytes(void* ptr, Device device, size_t bytes) {
  if (bytes == 0) return;
  if (device == Device::cpu) {
    std::memset(ptr, 0, bytes);
    return;
  }
  ALIBI_CUDA_RT(cudaMemsetAsync(ptr, 0, bytes, static_cast<cudaStream_t>(cuda_stream())));
}

#else  // CPU-only build

bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build has no CUDA backend: nvcc was not found when it was configured"; }
int select_cuda_device(int) {
  require_cuda_device("--device cuda");
  return 0;
}
std::string cuda_device_name() { return ""; }
double cuda_bf16_peak_tflops() { return 0.0; }
void* cuda_allocate(size_t) {
  require_cuda_device("CUDA memory");
  return nullptr;
}
void cuda_deallocate(void*, size_t) {}
AllocatorStats cuda_allocator_stats() { return {}; }
void cuda_reset_peak() {}
void* cuda_stream() { return nullptr; }
void record_event(std::vector<void*>&, size_t) { require_cuda_device("a CUDA timer"); }
double event_spans_s(const std::vector<void*>&, size_t) { return 0.0; }
void destroy_events(std::vector<void*>&) {}
void cuda_synchronize() {}
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  ALIBI_CHECK_AS(DeviceError, dst_device == Device::cpu && src_device == Device::cpu,
                 "no CUDA device (" << cuda_unavailable_reason() << "); run with --device cpu");
  if (bytes) std::memcpy(dst, src, bytes);
}
void copy_bytes_async(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  copy_bytes(dst, dst_device, src, src_device, bytes);
}
void zero_bytes(void* ptr, Device device, size_t bytes) {
  ALIBI_CHECK_AS(DeviceError, device == Device::cpu, "no CUDA device; run with --device cpu");
  if (bytes) std::memset(ptr, 0, bytes);
}

#endif

}  // namespace alibi
