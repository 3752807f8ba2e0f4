// A best-fit caching allocator that splits and merges blocks, for device memory (the CUDA
// allocator in runtime/device.cpp derives from it). cudaMalloc and cudaFree synchronise the
// device, so memory is taken from the system in segments and kept: a request takes the
// smallest free block that fits (best fit) and leaves the rest of it free (split); a freed
// block merges with free neighbours of its segment. A miss asks the system for a new segment
// and keeps the cache; only when the system has no room are the segments that are wholly
// free given back (not every cached block), and the request retried once. As in PyTorch's
// allocator, small requests (<= 1 MiB) share 2 MiB segments of their own and large ones take
// segments rounded to 2 MiB: a small tensor never pins a large segment.
//
//   class Fake : public BestFitAllocator { ... system_allocate / system_free ... };
//   void* p = a.allocate(1000);   // a 2 MiB segment from the system, 1024 bytes handed out
//   void* q = a.allocate(1000);   // the next 1024 bytes of the same segment: no system call
//   a.deallocate(p, 1000);        // free; merges with q's block once q is freed too
//
// The bookkeeping is plain C++ (tests/unit/test_best_fit_allocator.cpp runs it over a fake
// system allocator). Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "runtime/allocator.h"

namespace alibi {

class BestFitAllocator {
 public:
  static constexpr size_t kGranularity = 512;        // every block a multiple of this
  static constexpr size_t kSmallRequest = size_t{1} << 20;  // up to this: the small pool
  static constexpr size_t kSegmentStep = size_t{2} << 20;   // a small segment; large ones round to it

  BestFitAllocator(const BestFitAllocator&) = delete;
  BestFitAllocator& operator=(const BestFitAllocator&) = delete;

  void* allocate(size_t bytes);
  void deallocate(void* ptr, size_t bytes);
  AllocatorStats stats() const;
  void reset_peak();
  void release_cache();  // give every wholly free segment back to the system
  size_t segments() const;  // held from the system (for tests)

 protected:
  BestFitAllocator() = default;
  virtual ~BestFitAllocator() = default;
  virtual void* system_allocate(size_t bytes) = 0;  // nullptr when out of memory
  virtual void system_free(void* ptr) = 0;
  virtual void before_release() {}                   // e.g. wait for the device
  [[noreturn]] virtual void out_of_memory(size_t bytes, const AllocatorStats& stats) = 0;

 private:
  struct Block {
    size_t size = 0;
    bool free = false;
    uintptr_t segment = 0;  // the address of its segment's first byte
    bool small = false;     // in the small pool
  };
  using Blocks = std::map<uintptr_t, Block>;  // every block of every segment, by address

  void insert_free(Blocks::iterator it);
  void erase_free(Blocks::iterator it);
  void* take(Blocks::iterator it, size_t size);
  bool release_free_segments_locked();

  mutable std::mutex mutex_;
  Blocks blocks_;
  std::set<std::pair<size_t, uintptr_t>> free_[2];  // per pool (large, small): (size, address), best fit first
  std::map<uintptr_t, size_t> segments_;         // address -> size, as the system gave them
  AllocatorStats stats_;
};

}  // namespace alibi
