// Aligned, caching CPU allocator with usage statistics.
#include "runtime/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "runtime/error.h"

namespace alibi {

CpuAllocator& CpuAllocator::instance() {
  static CpuAllocator* allocator = new CpuAllocator();  // never destroyed: tensors may outlive main's statics
  return *allocator;
}

CpuAllocator::~CpuAllocator() { release_cache(); }

void* CpuAllocator::allocate(size_t bytes) {
  const size_t size = round_up(std::max<size_t>(bytes, 1));
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  auto it = cache_.find(size);
  if (it != cache_.end()) {
    ptr = it->second;
    cache_.erase(it);
    stats_.bytes_cached -= size;
  } else {
    ptr = std::aligned_alloc(kAlignment, size);
    if (ptr == nullptr) {  // the cache may hold what we need in other sizes: give it back, retry
      for (auto& [s, p] : cache_) std::free(p);
      cache_.clear();
      stats_.bytes_cached = 0;
      ptr = std::aligned_alloc(kAlignment, size);
    }
  }
  if (ptr == nullptr) {
    throw Error(ErrorKind::internal, "out of host memory allocating " + std::to_string(size) +
                                         " bytes; reduce --micro-batch or --seq-len");
  }
  stats_.bytes_in_use += size;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
  stats_.largest_block = std::max(stats_.largest_block, size);
  return ptr;
}

void CpuAllocator::deallocate(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round_up(std::max<size_t>(bytes, 1));
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytes_in_use -= size;
  cache_.emplace(size, ptr);
  stats_.bytes_cached += size;
}

AllocatorStats CpuAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CpuAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.bytes_in_use;
  stats_.largest_block = 0;
}

void CpuAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, ptr] : cache_) std::free(ptr);
  cache_.clear();
  stats_.bytes_cached = 0;
}

}  // namespace alibi
