// Reading a Megatron-LM indexed dataset (`alibi preprocess --megatron PREFIX`): corpora
// already tokenized by Megatron-LM's tools/preprocess_data.py become our HDF5 corpus.
// PREFIX.idx, little-endian:
//   9 bytes "MMIDIDX\0\0", uint64 version (1), uint8 dtype code (1 uint8, 2 int8,
//   3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16), uint64 sequence count S,
//   uint64 document-index count D, int32 lengths[S] (tokens per sequence), int64
//   pointers[S] (byte offsets into PREFIX.bin), int64 document_indices[D] (the sequence
//   where each document starts: first 0, last S; so D - 1 documents).
// PREFIX.bin: the tokens of every sequence back to back. Both files are validated when
// opened (sizes, offsets, order), so a wrong magic or a truncated .bin is one clear error.
//
//   MegatronDataset ds("my-corpus_text_document");
//   std::vector<int32_t> doc;
//   ds.read_document(0, doc);                     // its sequences' tokens, in order
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/corpus_writer.h"

namespace alibi {

class MegatronDataset {
 public:
  // IoError when a file is missing; DataError naming the file and the field for anything
  // that does not follow the layout above (float dtypes are refused: tokens are integers).
  explicit MegatronDataset(const std::string& prefix);
  MegatronDataset(const MegatronDataset&) = delete;
  MegatronDataset& operator=(const MegatronDataset&) = delete;
  ~MegatronDataset();

  int64_t documents() const { return static_cast<int64_t>(doc_index_.size()) - 1; }
  int64_t sequences() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t tokens() const { return total_tokens_; }
  const char* dtype_name() const;
  const std::string& bin_path() const { return bin_path_; }

  // Replaces `out` with document d's tokens. DataError naming the file, the document and
  // the position for a value that is negative or does not fit int32.
  void read_document(int64_t d, std::vector<int32_t>& out) const;

 private:
  std::string idx_path_, bin_path_;
  int dtype_code_ = 0;
  int item_bytes_ = 0;
  std::vector<int32_t> lengths_;
  std::vector<int64_t> pointers_;
  std::vector<int64_t> doc_index_;
  int64_t total_tokens_ = 0;
  const unsigned char* bin_ = nullptr;  // PREFIX.bin mapped read-only
  size_t bin_size_ = 0;
};

struct MegatronImportStats {
  int64_t documents = 0;
  int64_t tokens = 0;            // without the EOS we append
  int64_t trailing_eos_kept = 0;  // documents that already ended in EOS (not doubled)
};

// Writes every document of `ds` to `writer`, document d to split[d]. Megatron's
// --append-eod already ends each document with EOS: then that EOS is the one the corpus
// format puts there, not a second one. DataError naming PREFIX.bin, the document and the
// token for an id at or above the writer's vocabulary size. progress(documents done).
MegatronImportStats import_megatron(const MegatronDataset& ds, const std::vector<Split>& split, CorpusWriter& writer,
                                    const Tokenizer& tokenizer, const std::function<void(int64_t)>& progress = {});

}  // namespace alibi
