// CorpusWriter: writes documents into an HDF5 corpus (data/FORMAT.md), streaming the
// tokens chunk by chunk into extendible datasets (at most one chunk per split is held).
// The file is written as "<path>.tmp" and renamed to `path` by finish(); a writer that is
// destroyed unfinished (an exception on the way) removes the temporary file.
//
//   std::vector<Split> split = assign_splits(texts.size(), 0.01, 0.01, seed);
//   CorpusWriter writer("corpus.h5", Tokenizer::bytes());
//   for (size_t d = 0; d < texts.size(); ++d) writer.add_document(split[d], texts[d]);
//   writer.finish("alibi preprocess: ...");
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus.h"
#include "data/text_encoder.h"
#include "data/tokenizer.h"
#include "runtime/h5.h"

namespace alibi {

// The split of each of n documents, decided by a permutation seeded with
// rng_key(seed, "split"): round(n * valid_fraction) documents go to valid and
// round(n * test_fraction) to test, the rest to train. With n >= 3, a non-zero fraction
// gives at least one document; train always keeps at least one. ConfigError for
// fractions outside [0, 1) or summing to 1 or more.
std::vector<Split> assign_splits(int64_t n_docs, double valid_fraction, double test_fraction, uint64_t seed);

// The same permutation with exact counts: n_valid documents to valid, n_test to test.
// ConfigError unless both are >= 0 and leave train at least one document.
std::vector<Split> assign_split_counts(int64_t n_docs, int64_t n_valid, int64_t n_test, uint64_t seed);

struct SplitStats {
  int64_t docs = 0;
  int64_t tokens = 0;  // including each document's EOS
};

class CorpusWriter {
 public:
  // 32 Ki tokens, 64 KiB as uint16: every window read decodes and checksums (Fletcher32)
  // its whole chunk, so chunks stay small (measured with h5py, one 513-token window:
  // 4.8 ms from 1 Mi-token chunks, 0.32 ms from 64 Ki, 0.03 ms unfiltered).
  static constexpr int64_t kChunkTokens = int64_t{1} << 15;

  // Creates "<path>.tmp" (IoError naming it if it cannot).
  CorpusWriter(const std::string& path, const Tokenizer& tokenizer, int64_t chunk_tokens = kChunkTokens);
  CorpusWriter(const CorpusWriter&) = delete;
  CorpusWriter& operator=(const CorpusWriter&) = delete;
  ~CorpusWriter();  // unfinished: closes and removes the temporary file

  // Appends one document (its tokens, then EOS) to `split`.
  void add_document(Split split, std::string_view text);
  // Appends one already tokenized document (ids in [0, V)); EOS is appended here.
  void add_tokens(Split split, const int32_t* ids, int64_t n);

  // Writes offsets and attributes, closes the file and renames it to `path`.
  // `source` describes the inputs (the root attribute "source").
  void finish(const std::string& source);

  const SplitStats& stats(Split split) const { return splits_[static_cast<size_t>(split)].stats; }
  const std::string& path() const { return path_; }

 private:
  struct SplitState {
    std::vector<uint32_t> pending;        // tokens not yet written (< one chunk after a flush)
    std::vector<int64_t> offsets{0};      // doc_offsets so far
    std::optional<h5::Dataset> tokens;    // created with the first full chunk, or at finish
    SplitStats stats;
  };
  void flush_chunks(Split split, bool everything);

  std::string path_, tmp_path_;
  Tokenizer tokenizer_;
  int64_t chunk_tokens_;
  DType token_type_;
  std::optional<h5::File> file_;
  std::array<SplitState, 3> splits_;
  std::optional<TextEncoder> encoder_;  // add_document's, made on first use (it caches pieces)
  std::vector<int32_t> scratch_;        // one document's ids
  bool finished_ = false;
};

}  // namespace alibi
