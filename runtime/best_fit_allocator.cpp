// The best-fit caching allocator (runtime/best_fit_allocator.h).
#include "runtime/best_fit_allocator.h"

#include <algorithm>
#include <iterator>

#include "runtime/error.h"

namespace alibi {

namespace {
size_t round_up(size_t bytes, size_t to) { return (std::max<size_t>(bytes, 1) + to - 1) / to * to; }
}  // namespace

void BestFitAllocator::insert_free(Blocks::iterator it) {
  it->second.free = true;
  free_[it->second.small].emplace(it->second.size, it->first);
  stats_.bytes_cached += it->second.size;
}

void BestFitAllocator::erase_free(Blocks::iterator it) {
  it->second.free = false;
  free_[it->second.small].erase({it->second.size, it->first});
  stats_.bytes_cached -= it->second.size;
}

// Hands out the first `size` bytes of free block `it`; the rest stays free as its own block.
void* BestFitAllocator::take(Blocks::iterator it, size_t size) {
  erase_free(it);
  Block& b = it->second;
  if (b.size > size) {
    auto rest = blocks_.emplace_hint(std::next(it), it->first + size, Block{b.size - size, false, b.segment, b.small});
    b.size = size;
    insert_free(rest);
  }
  stats_.bytes_in_use += size;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
  stats_.largest_block = std::max(stats_.largest_block, size);
  return reinterpret_cast<void*>(it->first);
}

void* BestFitAllocator::allocate(size_t bytes) {
  const size_t size = round_up(bytes, kGranularity);
  std::lock_guard<std::mutex> lock(mutex_);
  const bool small = size <= kSmallRequest;
  auto fit = free_[small].lower_bound({size, 0});
  if (fit != free_[small].end()) return take(blocks_.find(fit->second), size);
  // A miss: a new segment, the cache kept. Only when the system is full do the wholly free
  // segments go back (a partly used one cannot), and the request is retried once.
  const size_t segment = small ? kSegmentStep : round_up(size, kSegmentStep);
  void* ptr = system_allocate(segment);
  if (ptr == nullptr && release_free_segments_locked()) ptr = system_allocate(segment);
  if (ptr == nullptr) out_of_memory(size, stats_);
  const uintptr_t at = reinterpret_cast<uintptr_t>(ptr);
  segments_.emplace(at, segment);
  auto it = blocks_.emplace(at, Block{segment, false, at, small}).first;
  insert_free(it);
  return take(it, size);
}

void BestFitAllocator::deallocate(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(reinterpret_cast<uintptr_t>(ptr));
  ALIBI_CHECK(it != blocks_.end() && !it->second.free,
              "BestFitAllocator::deallocate of a pointer it did not hand out (or freed twice)");
  ALIBI_CHECK(round_up(bytes, kGranularity) == it->second.size,
              "BestFitAllocator::deallocate of " << bytes << " bytes, but the block holds " << it->second.size);
  stats_.bytes_in_use -= it->second.size;
  // Merge with the free neighbours of the same segment.
  if (it != blocks_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free && prev->second.segment == it->second.segment) {
      erase_free(prev);
      prev->second.size += it->second.size;
      blocks_.erase(it);
      it = prev;
    }
  }
  auto next = std::next(it);
  if (next != blocks_.end() && next->second.free && next->second.segment == it->second.segment) {
    erase_free(next);
    it->second.size += next->second.size;
    blocks_.erase(next);
  }
  insert_free(it);
}

bool BestFitAllocator::release_free_segments_locked() {
  bool any = false;
  for (auto s = segments_.begin(); s != segments_.end();) {
    auto it = blocks_.find(s->first);
    if (it->second.free && it->second.size == s->second) {  // one free block spans the segment
      if (!any) before_release();
      any = true;
      erase_free(it);
      blocks_.erase(it);
      system_free(reinterpret_cast<void*>(s->first));
      s = segments_.erase(s);
    } else {
      ++s;
    }
  }
  return any;
}

void BestFitAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments_locked();
}

AllocatorStats BestFitAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BestFitAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.bytes_in_use;
  stats_.largest_block = 0;
}

size_t BestFitAllocator::segments() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return segments_.size();
}

}  // namespace alibi
