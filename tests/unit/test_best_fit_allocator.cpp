// The best-fit caching allocator's bookkeeping (runtime/best_fit_allocator.h) over a fake
// system allocator: addresses from a counter (never touched), a byte limit, and a log of
// every system call. The CUDA allocator is this class over cudaMalloc/cudaFree.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <stdexcept>

#include "runtime/best_fit_allocator.h"

namespace alibi {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

class FakeSystem final : public BestFitAllocator {
 public:
  explicit FakeSystem(size_t limit = SIZE_MAX) : limit_(limit) {}
  int allocations = 0, frees = 0;
  size_t held = 0;

 private:
  void* system_allocate(size_t bytes) override {
    if (held + bytes > limit_) return nullptr;
    ++allocations;
    held += bytes;
    const uintptr_t at = next_;
    next_ += bytes + kMiB;  // a gap: segments are never adjacent by accident
    sizes_[at] = bytes;
    return reinterpret_cast<void*>(at);
  }
  void system_free(void* ptr) override {
    ++frees;
    held -= sizes_.at(reinterpret_cast<uintptr_t>(ptr));
    sizes_.erase(reinterpret_cast<uintptr_t>(ptr));
  }
  [[noreturn]] void out_of_memory(size_t bytes, const AllocatorStats&) override {
    throw std::runtime_error("out of memory: " + std::to_string(bytes));
  }
  size_t limit_;
  uintptr_t next_ = uintptr_t{1} << 32;
  std::map<uintptr_t, size_t> sizes_;
};

uintptr_t at(void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(BestFitAllocator, SmallRequestsSplitOneSegment) {
  FakeSystem a;
  void* p = a.allocate(1000);
  void* q = a.allocate(1000);
  void* r = a.allocate(3000);
  EXPECT_EQ(a.allocations, 1);  // one 2 MiB segment serves all three
  EXPECT_EQ(at(q), at(p) + 1024);
  EXPECT_EQ(at(r), at(q) + 1024);
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 1024u + 1024u + 3072u);
  EXPECT_EQ(s.bytes_cached, 2 * kMiB - s.bytes_in_use);
  a.deallocate(p, 1000);
  a.deallocate(q, 1000);
  a.deallocate(r, 3000);
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
  EXPECT_EQ(a.stats().bytes_cached, 2 * kMiB);
  EXPECT_EQ(a.stats().peak_bytes, 5120u);
}

TEST(BestFitAllocator, TakesTheSmallestFreeBlockThatFits) {
  FakeSystem a;
  void* b1 = a.allocate(4096);
  void* keep1 = a.allocate(512);
  void* b2 = a.allocate(8192);
  void* keep2 = a.allocate(512);
  void* b3 = a.allocate(3584);
  void* keep3 = a.allocate(512);
  a.deallocate(b2, 8192);
  a.deallocate(b1, 4096);
  a.deallocate(b3, 3584);
  EXPECT_EQ(a.allocate(3500), b3);  // 3584 fits best (4096 and 8192 and the tail also fit)
  EXPECT_EQ(a.allocate(4000), b1);
  void* from_b2 = a.allocate(1024);  // the 8 KiB block, split: its rest stays free
  EXPECT_EQ(from_b2, b2);
  EXPECT_EQ(a.allocate(7168), reinterpret_cast<void*>(at(b2) + 1024));
  EXPECT_EQ(a.allocations, 1);
  for (void* k : {keep1, keep2, keep3}) a.deallocate(k, 512);
}

TEST(BestFitAllocator, FreedNeighboursMerge) {
  FakeSystem a;
  void* p = a.allocate(kMiB / 2);
  void* q = a.allocate(kMiB / 2);
  void* r = a.allocate(kMiB / 2);  // and a free tail of kMiB / 2 after it
  a.deallocate(q, kMiB / 2);
  a.release_cache();
  EXPECT_EQ(a.frees, 0);  // partly in use: the segment stays
  a.deallocate(p, kMiB / 2);  // merges with q's block after it
  EXPECT_EQ(a.allocate(kMiB), p);  // the merged block, no system call
  a.deallocate(p, kMiB);
  a.deallocate(r, kMiB / 2);  // merges with the block before it and the tail after it
  EXPECT_EQ(a.allocations, 1);
  a.release_cache();  // one free block spans the segment: it goes back
  EXPECT_EQ(a.frees, 1);
  EXPECT_EQ(a.segments(), 0u);
}

TEST(BestFitAllocator, AMissKeepsTheCacheUntilTheSystemIsFull) {
  FakeSystem a(16 * kMiB);
  void* big = a.allocate(6 * kMiB);  // large pool: a 6 MiB segment
  void* small = a.allocate(1000);    // small pool: a 2 MiB segment
  a.deallocate(big, 6 * kMiB);
  EXPECT_EQ(a.allocate(kMiB + 1), big);  // large, fits the cached 6 MiB block: no system call
  a.deallocate(big, kMiB + 1);
  void* seven = a.allocate(7 * kMiB);  // a miss with room: a new 8 MiB segment, the cache kept
  EXPECT_EQ(a.allocations, 3);
  EXPECT_EQ(a.frees, 0);
  a.deallocate(seven, 7 * kMiB);
  // A miss without room (16 + 10 > 16): the wholly free 6 and 8 MiB segments go back, not
  // the small one in use, and the retry fits (2 + 10 <= 16).
  void* nine = a.allocate(9 * kMiB);
  EXPECT_EQ(a.frees, 2);
  EXPECT_EQ(a.held, 12 * kMiB);
  EXPECT_THROW(a.allocate(5 * kMiB), std::runtime_error);  // 12 + 6 > 16, nothing wholly free
  EXPECT_EQ(a.frees, 2);
  a.deallocate(nine, 9 * kMiB);
  a.deallocate(small, 1000);
  a.release_cache();
  EXPECT_EQ(a.held, 0u);
  EXPECT_EQ(a.segments(), 0u);
}

TEST(BestFitAllocator, SmallRequestsNeverSplitALargeSegment) {
  FakeSystem a;
  void* big = a.allocate(64 * kMiB);
  a.deallocate(big, 64 * kMiB);
  void* small = a.allocate(4096);
  EXPECT_EQ(a.allocations, 2);  // its own 2 MiB segment
  EXPECT_NE(small, big);
  a.release_cache();  // the large segment is wholly free: it goes
  EXPECT_EQ(a.frees, 1);
  a.deallocate(small, 4096);
}

TEST(BestFitAllocator, WrongFreesAreErrors) {
  FakeSystem a;
  void* p = a.allocate(1000);
  EXPECT_ANY_THROW(a.deallocate(reinterpret_cast<void*>(at(p) + 512), 1000));
  EXPECT_ANY_THROW(a.deallocate(p, 5000));
  a.deallocate(p, 1000);
  EXPECT_ANY_THROW(a.deallocate(p, 1000));
}

}  // namespace
}  // namespace alibi
