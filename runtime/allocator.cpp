// The caching allocator and its host instance.
#include "runtime/allocator.h"

#include <sanitizer/asan_interface.h>  // the poisoning macros; no-ops without -fsanitize=address

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>

#include "runtime/error.h"

namespace alibi {

size_t CachingAllocator::round_up(size_t bytes) const {
  return (std::max<size_t>(bytes, 1) + granularity_ - 1) / granularity_ * granularity_;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  auto it = cache_.find(size);
  if (it != cache_.end()) {
    ptr = it->second;
    cache_.erase(it);
    stats_.bytes_cached -= size;
  } else {
    ptr = system_allocate(size);
    if (ptr == nullptr && !cache_.empty()) {  // the cache may hold what we need in other sizes
      release_locked();
      ptr = system_allocate(size);
    }
    if (ptr == nullptr) out_of_memory(size, stats_);
  }
  on_handout(ptr, bytes, size);
  stats_.bytes_in_use += size;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
  stats_.largest_block = std::max(stats_.largest_block, size);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytes_in_use -= size;
  on_cached(ptr, size);
  cache_.emplace(size, ptr);
  stats_.bytes_cached += size;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.bytes_in_use;
  stats_.largest_block = 0;
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_locked();
}

void CachingAllocator::release_locked() {
  before_release();
  for (auto& [size, ptr] : cache_) system_free(ptr);
  cache_.clear();
  stats_.bytes_cached = 0;
}

CpuAllocator& CpuAllocator::instance() {
  static CpuAllocator* allocator = new CpuAllocator();  // never destroyed: tensors may outlive main's statics
  return *allocator;
}

void* CpuAllocator::system_allocate(size_t bytes) { return std::aligned_alloc(kAlignment, bytes); }
void CpuAllocator::system_free(void* ptr) { std::free(ptr); }

// Under AddressSanitizer a cached block looks to ASan like live memory, and a request
// rounded up to 64 bytes like a larger one: without these marks a tensor read past its end
// or after it was freed would go unseen. Only the requested bytes are addressable.
void CpuAllocator::on_handout(void* ptr, size_t bytes, size_t size) {
  ASAN_POISON_MEMORY_REGION(ptr, size);
  ASAN_UNPOISON_MEMORY_REGION(ptr, bytes);
}
void CpuAllocator::on_cached(void* ptr, size_t size) { ASAN_POISON_MEMORY_REGION(ptr, size); }

void CpuAllocator::out_of_memory(size_t bytes, const AllocatorStats& stats) {
  throw Error(ErrorKind::internal, "out of host memory allocating " + std::to_string(bytes) + " bytes (" +
                                       std::to_string(stats.bytes_in_use) +
                                       " in use); reduce --micro-batch or --seq-len");
}

}  // namespace alibi
