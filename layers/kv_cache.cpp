// The KV cache's slots: allocation, the window's evictions and the move back to slot 0.
#include "layers/kv_cache.h"

#include <algorithm>

#include "runtime/device.h"

namespace alibi {

KvCache::KvCache(int n_layers, int NH, int HS, int64_t capacity, int64_t window, DType dtype, Device device)
    : capacity_(capacity), window_(window) {
  ALIBI_CHECK_AS(ConfigError, capacity >= 1 && window >= 0,
                 "a KV cache needs capacity >= 1 and window >= 0 (got " << capacity << ", " << window << ")");
  // Tensor::empty: pages are touched as positions are written, so memory grows with the text.
  for (int l = 0; l < n_layers; ++l) {
    k_.push_back(Tensor::empty({NH, capacity, HS}, dtype, device));
    v_.push_back(Tensor::empty({NH, capacity, HS}, dtype, device));
  }
}

void KvCache::reserve(int T) {
  ALIBI_CHECK(pending_ == 0, "KvCache::reserve: the previous " << pending_ << " positions were not committed");
  if (window_ > 0) {  // a query at the first new position sees the last window - 1 before it
    const int64_t keep = std::min(length_, window_ - 1);
    first_slot_ += length_ - keep;
    first_position_ += length_ - keep;
    length_ = keep;
  }
  ALIBI_CHECK_AS(ConfigError, length_ + T <= capacity_,
                 "the KV cache holds " << capacity_ << " positions; " << length_ << " in context and " << T
                                       << " new do not fit (a window of " << window_
                                       << " needs a capacity of at least window - 1 + the new tokens)");
  if (first_slot_ + length_ + T > capacity_) {  // out of slots at the end: the visible ones go to slot 0
    // Chunks of first_slot_ slots, front to back: no chunk's source overlaps its own or a
    // later chunk's destination, so plain copies do (memmove has no device equivalent).
    for (std::vector<Tensor>* kv : {&k_, &v_})
      for (Tensor& t : *kv) {
        const int64_t NH = t.dim(0), HS = t.dim(2);
        const size_t slot = static_cast<size_t>(HS) * dtype_size(t.dtype());
        char* base = static_cast<char*>(t.raw());
        for (int64_t h = 0; h < NH; ++h) {
          char* head = base + static_cast<size_t>(h * capacity_) * slot;
          for (int64_t s = 0; s < length_; s += first_slot_) {
            const int64_t n = std::min(first_slot_, length_ - s);
            copy_bytes_async(head + s * slot, t.device(), head + (first_slot_ + s) * slot, t.device(), n * slot);
          }
        }
      }
    first_slot_ = 0;
  }
  pending_ = T;
}

void KvCache::commit(int T) {
  ALIBI_CHECK(T == pending_, "KvCache::commit(" << T << ") after reserve(" << pending_ << ")");
  length_ += T;
  pending_ = 0;
}

size_t KvCache::bytes() const {
  size_t n = 0;
  for (const std::vector<Tensor>* kv : {&k_, &v_})
    for (const Tensor& t : *kv) n += t.nbytes();
  return n;
}

}  // namespace alibi
