// The KV cache of one rank for generation: the key and value of every past position, for
// each layer and each of this rank's heads (a tensor-parallel rank caches its own heads),
// so a new token costs one pass over the cache instead of a forward over the whole text.
//
//   KvCache cache = model.make_cache(prompt.size() + max_new);   // (NH_local, capacity, HS) x 2 x L
//   model.forward_cached(prompt.data(), prompt.size(), cache);   // blocked forward fills it
//   model.forward_cached(&next, 1, cache);                       // then one token at a time
//
// Positions are token indices in the stream (0 for the first token kept). Visible position
// first_position() + j lives in slot first_slot() + j of every layer and head. With a
// window W > 0 a query at position i sees only positions > i - W: reserve() drops the keys no
// new query can see, and when the buffer's end is reached moves the visible ones to slot 0
// (every capacity - W + 1 tokens at worst, amortised O(1) per token), so memory stays
// capacity slots, not the length of the stream. Keys of rotary models are stored turned by
// their positions (kernels/attention_decode.h).
#pragma once

#include <vector>

#include "runtime/tensor.h"

namespace alibi {

class KvCache {
 public:
  KvCache() = default;
  // n_layers layers of NH heads of size HS; capacity slots per head; window 0 = unlimited
  // (the stream may then not outgrow the capacity).
  KvCache(int n_layers, int NH, int HS, int64_t capacity, int64_t window, DType dtype, Device device = Device::cpu);

  // Room for T new positions: drops what the window no longer needs and moves the rest to
  // slot 0 when slots run out. ConfigError when T new positions cannot fit.
  void reserve(int T);
  // The T reserved positions, now written by every layer, join the context.
  void commit(int T);

  int n_layers() const { return static_cast<int>(k_.size()); }
  int64_t length() const { return length_; }                 // visible positions
  int64_t first_slot() const { return first_slot_; }
  int64_t first_position() const { return first_position_; }
  int64_t next_position() const { return first_position_ + length_; }  // of the next token
  int64_t capacity() const { return capacity_; }
  int64_t window() const { return window_; }
  Tensor& k(int layer) { return k_.at(layer); }  // (NH, capacity, HS)
  Tensor& v(int layer) { return v_.at(layer); }
  size_t bytes() const;  // the cache's memory, every layer

 private:
  std::vector<Tensor> k_, v_;
  int64_t capacity_ = 0, window_ = 0;
  int64_t first_slot_ = 0, length_ = 0, first_position_ = 0;
  int pending_ = 0;  // positions reserved and not yet committed
};

}  // namespace alibi
