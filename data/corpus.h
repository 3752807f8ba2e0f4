// Corpus: the reader of an HDF5 corpus (data/FORMAT.md). Opening validates the whole
// schema (not the token values, which every read checks) and fails with one line naming
// the file and the field. Tokens are read as hyperslabs, never a whole split.
//
//   Corpus corpus("corpus.h5");                       // MPI_COMM_SELF: serial driver
//   corpus.require_tokens(Split::valid, T + 1, "--seq-len " + std::to_string(T));
//   std::vector<int32_t> w(T + 1);
//   corpus.read_tokens(Split::train, k * T, T + 1, w.data());
//
// Several ranks may open one corpus together through `comm` (MPI-IO driver; the open is
// collective over comm); reads stay independent, so each rank reads its own windows.
#pragma once

#include <mpi.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"
#include "runtime/h5.h"

namespace alibi {

enum class Split { train, valid, test };
inline constexpr std::array<Split, 3> kSplits = {Split::train, Split::valid, Split::test};
const char* split_name(Split split);           // "train", "valid", "test"
Split parse_split(std::string_view name);      // ConfigError naming the choices

inline constexpr int64_t kCorpusFormatVersion = 1;

class Corpus {
 public:
  // IoError when the file is missing; DataError when it is empty, not HDF5, truncated or
  // does not follow data/FORMAT.md.
  explicit Corpus(const std::string& path, MPI_Comm comm = MPI_COMM_SELF);

  const std::string& path() const { return path_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  int64_t vocab_size() const { return tokenizer_.vocab_size; }
  int64_t eos_id() const { return tokenizer_.eos_id; }
  const std::string& source() const { return source_; }

  int64_t size(Split split) const { return at(split).n_tokens; }  // tokens in the split
  int64_t documents(Split split) const { return at(split).n_docs; }
  std::vector<int64_t> doc_offsets(Split split) const;             // N_docs + 1 offsets

  // tokens[offset, offset + count) of `split` into out[0..count). A range outside the
  // split is an internal error (the caller's bug); a token id >= V is a DataError.
  void read_tokens(Split split, int64_t offset, int64_t count, int32_t* out) const;

  // DataError unless `split` has at least n tokens; `why` names the need, e.g.
  // "--seq-len 512 (a window is T+1 tokens)".
  void require_tokens(Split split, int64_t n, const std::string& why) const;

 private:
  struct SplitData {
    std::optional<h5::Dataset> tokens;  // opened once, read by hyperslab
    int64_t n_tokens = 0;
    int64_t n_docs = 0;
  };
  const SplitData& at(Split split) const { return splits_[static_cast<size_t>(split)]; }
  void open_split(Split split);
  [[noreturn]] void fail(const std::string& field, const std::string& what) const;

  std::string path_;
  h5::File file_;
  Tokenizer tokenizer_;
  std::string source_;
  std::array<SplitData, 3> splits_;
};

}  // namespace alibi
