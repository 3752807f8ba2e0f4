// The CPU allocator: 64-byte aligned blocks, cached by size so that a training step
// reuses last step's buffers instead of page-faulting fresh ones from the OS (glibc
// returns large blocks on free). It counts bytes in use and their peak, which the
// memory tests and benchmarks read (e.g. "no T x T buffer was ever allocated").
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

class CpuAllocator {
 public:
  static constexpr size_t kAlignment = 64;
  static CpuAllocator& instance();

  void* allocate(size_t bytes);
  void deallocate(void* ptr, size_t bytes);
  AllocatorStats stats() const;
  void reset_peak();
  void release_cache();  // return every cached block to the OS

 private:
  CpuAllocator() = default;
  ~CpuAllocator();
  static size_t round_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

  mutable std::mutex mutex_;
  std::multimap<size_t, void*> cache_;  // rounded size -> free block
  AllocatorStats stats_;
};

}  // namespace alibi
