// Building and validating the BPE lookup tables.
#include "data/bpe_tables.h"

#include <unordered_map>

#include "runtime/error.h"

namespace alibi {

namespace {

// A token's bytes for messages: printable ASCII as is, other bytes as \xNN.
std::string show(const std::string& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out = "'";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out + "'";
}

}  // namespace

void BpeTables::insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  const uint64_t key = pair_key(left, right);
  uint64_t i = slot_of(key);
  while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
  slots_[i] = Slot{key, rank, merged};
}

std::shared_ptr<const BpeTables> BpeTables::build(const std::vector<std::string>& vocab,
                                                  const std::vector<Merge>& merges, int64_t eos_id,
                                                  const std::string& where) {
  const int64_t V = static_cast<int64_t>(vocab.size());
  const char* fix = "; the tokenizer is damaged, make it again";
  ALIBI_CHECK_AS(DataError, V >= 257 && V <= (int64_t{1} << 30),
                 where << ": vocab_size " << V << " is outside [257, 2^30] (256 bytes + EOS at least)" << fix);
  ALIBI_CHECK_AS(DataError, eos_id >= 0 && eos_id < V,
                 where << ": eos_id " << eos_id << " is outside [0, vocab_size = " << V << ")" << fix);

  auto tables = std::make_shared<BpeTables>();
  std::unordered_map<std::string, int32_t> id_of;
  id_of.reserve(static_cast<size_t>(V));
  tables->byte_id.fill(-1);
  for (int64_t id = 0; id < V; ++id) {
    if (id == eos_id) continue;  // a special token: never produced from text
    const std::string& bytes = vocab[static_cast<size_t>(id)];
    ALIBI_CHECK_AS(DataError, !bytes.empty(), where << ": vocab entry " << id << " is empty" << fix);
    const auto [it, fresh] = id_of.emplace(bytes, static_cast<int32_t>(id));
    ALIBI_CHECK_AS(DataError, fresh,
                   where << ": vocab entries " << it->second << " and " << id << " are both " << show(bytes) << fix);
    if (bytes.size() == 1) tables->byte_id[static_cast<unsigned char>(bytes[0])] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; ++b)
    ALIBI_CHECK_AS(DataError, tables->byte_id[b] >= 0,
                   where << ": no token for the byte " << show(std::string(1, static_cast<char>(b)))
                         << "; a byte-level vocabulary needs all 256" << fix);

  int bits = 1;
  while ((size_t{1} << bits) < 2 * merges.size() + 2) ++bits;
  tables->slots_.assign(size_t{1} << bits, Slot{kEmpty, 0, 0});
  tables->mask_ = (uint64_t{1} << bits) - 1;
  tables->shift_ = 64 - bits;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge m = merges[rank];
    for (int32_t side : {m.left, m.right})
      ALIBI_CHECK_AS(DataError, side >= 0 && side < V && side != eos_id,
                     where << ": merge " << rank << " uses id " << side << ", not a token of the vocabulary [0, "
                           << V << ") other than EOS" << fix);
    const std::string joined = vocab[static_cast<size_t>(m.left)] + vocab[static_cast<size_t>(m.right)];
    const auto it = id_of.find(joined);
    ALIBI_CHECK_AS(DataError, it != id_of.end(),
                   where << ": merge " << rank << " (" << m.left << ", " << m.right << ") makes " << show(joined)
                         << ", which is not in the vocabulary" << fix);
    int32_t old_rank, old_merged;
    ALIBI_CHECK_AS(DataError, !tables->find(m.left, m.right, old_rank, old_merged),
                   where << ": merges " << old_rank << " and " << rank << " are the same pair (" << m.left << ", "
                         << m.right << ")" << fix);
    tables->insert(m.left, m.right, static_cast<int32_t>(rank), it->second);
  }
  return tables;
}

}  // namespace alibi
