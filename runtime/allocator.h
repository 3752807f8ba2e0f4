// Caching allocators: blocks are cached by rounded size so that a training step reuses last
// step's buffers instead of asking the system again (glibc returns large host blocks to the
// OS on free; cudaMalloc/cudaFree synchronise the device). Each counts bytes in use and
// their peak, which the memory tests and benchmarks read (e.g. "no T x T buffer was ever
// allocated"). CpuAllocator is the host one (exact sizes: glibc-backed, ASan-marked); the
// CUDA one is a best-fit allocator that splits segments (runtime/best_fit_allocator.h).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>

namespace alibi {

struct AllocatorStats {
  size_t bytes_in_use = 0;  // handed out and not yet freed
  size_t peak_bytes = 0;    // max of bytes_in_use since the last reset_peak()
  size_t bytes_cached = 0;  // freed, kept for reuse
  size_t largest_block = 0; // largest single request since the last reset_peak()
};

class CachingAllocator {
 public:
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes`, aligned to the granularity; when the system has no room,
  // the cache is given back and the request retried once, then out_of_memory() throws.
  void* allocate(size_t bytes);
  void deallocate(void* ptr, size_t bytes);
  AllocatorStats stats() const;
  void reset_peak();
  void release_cache();  // return every cached block to the system

 protected:
  explicit CachingAllocator(size_t granularity) : granularity_(granularity) {}
  virtual ~CachingAllocator() = default;
  virtual void* system_allocate(size_t bytes) = 0;  // nullptr when out of memory
  virtual void system_free(void* ptr) = 0;
  virtual void before_release() {}                   // e.g. wait for the device
  // As a block of `size` bytes is handed out for a request of `bytes`, and as it goes back
  // to the cache: the host allocator tells AddressSanitizer which bytes may be touched
  // (device memory has no shadow bytes: the CUDA allocator does nothing).
  virtual void on_handout(void* ptr, size_t bytes, size_t size) {}
  virtual void on_cached(void* ptr, size_t size) {}
  [[noreturn]] virtual void out_of_memory(size_t bytes, const AllocatorStats& stats) = 0;

 private:
  size_t round_up(size_t bytes) const;
  void release_locked();

  const size_t granularity_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> cache_;  // rounded size -> free block
  AllocatorStats stats_;
};

// Host memory, 64-byte aligned (a cache line; AVX-512 loads).
class CpuAllocator final : public CachingAllocator {
 public:
  static constexpr size_t kAlignment = 64;
  static CpuAllocator& instance();

 private:
  CpuAllocator() : CachingAllocator(kAlignment) {}
  void* system_allocate(size_t bytes) override;
  void system_free(void* ptr) override;
  void on_handout(void* ptr, size_t bytes, size_t size) override;
  void on_cached(void* ptr, size_t size) override;
  [[noreturn]] void out_of_memory(size_t bytes, const AllocatorStats& stats) override;
};

}  // namespace alibi
