// The lookup tables byte-level BPE encoding needs, built once from a tokenizer's vocab and
// merges (which they also validate) and shared read-only by every TextEncoder:
// the token of each byte, and for each mergeable pair of adjacent tokens its rank (lower
// merges first) and the token it becomes.
//
//   std::shared_ptr<const BpeTables> t = BpeTables::build(vocab, merges, eos_id, "where");
//   int32_t rank, merged;
//   if (t->find(left, right, rank, merged)) ...
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace alibi {

struct BpeTables {
  std::array<int32_t, 256> byte_id{};  // the single-byte token of each byte value

  // The rank and result of merging `left` then `right`; false when they do not merge.
  bool find(int32_t left, int32_t right, int32_t& rank, int32_t& merged) const {
    const uint64_t key = pair_key(left, right);
    for (uint64_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) {
        rank = s.rank, merged = s.merged;
        return true;
      }
      if (s.key == kEmpty) return false;
    }
  }

  // Validates the definition (see Tokenizer::from_bpe) and builds the tables; DataError
  // beginning with `where` when something is missing or inconsistent.
  static std::shared_ptr<const BpeTables> build(const std::vector<std::string>& vocab,
                                                const std::vector<Merge>& merges, int64_t eos_id,
                                                const std::string& where);

 private:
  // Open addressing with linear probing over a power-of-two table at most half full.
  struct Slot {
    uint64_t key;
    int32_t rank, merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are < 2^31: no pair has this key
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
  }
  uint64_t slot_of(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void insert(int32_t left, int32_t right, int32_t rank, int32_t merged);

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  int shift_ = 64;
};

}  // namespace alibi
