// The corpus reader: open, validate against data/FORMAT.md, read token hyperslabs.
#include "data/corpus.h"

#include <filesystem>

#include <cstdio>

#include "runtime/error.h"

namespace alibi {

namespace {

constexpr const char* kRemake = "re-run alibi preprocess to make the corpus again";

// The serial driver unless `comm` really spans several processes.
h5::FileOptions corpus_file_options(MPI_Comm comm) {
  h5::FileOptions options;
  options.missing_hint = "make one with alibi preprocess --input <text files or directories> --output <file.h5>";
  options.damaged_hint = kRemake;
  int initialized = 0, size = 1;
  MPI_Initialized(&initialized);
  if (initialized && comm != MPI_COMM_NULL && comm != MPI_COMM_SELF) MPI_Comm_size(comm, &size);
  if (size > 1) options.comm = comm;
  return options;
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
  }
  return "?";
}

Split parse_split(std::string_view name) {
  for (Split s : kSplits)
    if (name == split_name(s)) return s;
  throw ConfigError("'" + std::string(name) + "' is not a corpus split; use train, valid or test");
}

void Corpus::fail(const std::string& field, const std::string& what) const {
  throw DataError(path_ + ": " + field + ": " + what + "; " + kRemake);
}

Corpus::Corpus(const std::string& path, MPI_Comm comm)
    : path_(path), file_(path, h5::Access::read_only, corpus_file_options(comm)) {
  // Root attributes first: an unknown version explains every later difference.
  if (!file_.has_attr("format_version"))
    fail("format_version", "missing; this is not an alibi corpus (or an unfinished one)");
  const int64_t version = file_.int_attr("format_version");
  if (version != kCorpusFormatVersion)
    throw DataError(path_ + ": format_version is " + std::to_string(version) + ", this build reads " +
                    std::to_string(kCorpusFormatVersion) + "; use the matching alibi or " + kRemake);
  const int64_t vocab = file_.int_attr("vocab_size");
  const int64_t eos = file_.int_attr("eos_id");
  if (vocab < 2) fail("vocab_size", std::to_string(vocab) + " is below 2");
  if (eos < 0 || eos >= vocab)
    fail("eos_id", std::to_string(eos) + " is outside [0, vocab_size = " + std::to_string(vocab) + ")");
  source_ = file_.has_attr("source") ? file_.string_attr("source") : std::string();

  tokenizer_ = Tokenizer::read_from(file_.group("tokenizer"));
  if (tokenizer_.vocab_size != vocab || tokenizer_.eos_id != eos)
    fail("/tokenizer", "says " + tokenizer_.describe() + " but the root attributes say vocab_size " +
                           std::to_string(vocab) + ", eos_id " + std::to_string(eos));

  for (Split s : kSplits) open_split(s);
  // Corpora from before checksums still load; say once that their tokens are unverified.
  bool checksummed = true;
  for (Split s : kSplits) checksummed = checksummed && at(s).tokens->checksummed();
  if (!checksummed)
    std::fprintf(stderr, "alibi: note: %s has no checksums (written before they were added); its tokens are "
                         "read unverified\n", path_.c_str());
}

void Corpus::open_split(Split split) {
  const std::string group = std::string("/") + split_name(split);
  if (!file_.exists(group)) fail(group, "missing split group");
  SplitData& d = splits_[static_cast<size_t>(split)];

  h5::Dataset tokens = file_.dataset(group + "/tokens");
  const std::vector<int64_t> shape = tokens.shape();
  if (shape.size() != 1) fail(tokens.name(), "is " + std::to_string(shape.size()) + "-D, expected 1-D");
  const DType type = tokens.dtype();
  const bool holds_vocab = (type == DType::u16 && vocab_size() <= 65536) || type == DType::u32;
  if (!holds_vocab)
    fail(tokens.name(), std::string("element type ") + dtype_name(type) + " cannot hold " +
                            std::to_string(vocab_size()) + " token ids (expected uint16 or uint32)");
  d.n_tokens = shape[0];
  // Every element is stored (no compression), so a shape the file's bytes cannot hold is
  // damage; read whole, such a shape asked for terabytes (found by tests/fuzz/fuzz_hdf5).
  const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(path_));
  if (d.n_tokens > file_bytes / static_cast<int64_t>(dtype_size(type)))
    fail(tokens.name(), "claims " + std::to_string(d.n_tokens) + " tokens, more than the file's " +
                            std::to_string(file_bytes) + " bytes hold");

  h5::Dataset offsets_ds = file_.dataset(group + "/doc_offsets");
  const std::vector<int64_t> oshape = offsets_ds.shape();
  if (oshape.size() != 1 || oshape[0] < 1)
    fail(offsets_ds.name(), "expected a 1-D array of N_docs + 1 offsets");
  if (oshape[0] > d.n_tokens + 1 || oshape[0] > file_bytes / 8)
    fail(offsets_ds.name(), "claims " + std::to_string(oshape[0] - 1) + " documents, more than the " +
                                std::to_string(d.n_tokens) + " tokens (each holds at least its EOS) or the file's " +
                                std::to_string(file_bytes) + " bytes hold");
  // The offsets are 8 bytes per document, small next to the tokens: check them all.
  const std::vector<int64_t> offsets = offsets_ds.read_all<int64_t>();
  if (offsets.front() != 0) fail(offsets_ds.name(), "starts at " + std::to_string(offsets.front()) + ", not 0");
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] <= offsets[i - 1])
      fail(offsets_ds.name(), "document " + std::to_string(i - 1) + " is empty or negative (offsets " +
                                  std::to_string(offsets[i - 1]) + ", " + std::to_string(offsets[i]) +
                                  "); every document has at least its EOS");
  if (offsets.back() != d.n_tokens)
    fail(offsets_ds.name(), "ends at " + std::to_string(offsets.back()) + " but " + tokens.name() + " has " +
                                std::to_string(d.n_tokens) + " tokens");
  d.n_docs = static_cast<int64_t>(offsets.size()) - 1;
  d.tokens = std::move(tokens);
}

std::vector<int64_t> Corpus::doc_offsets(Split split) const {
  return file_.dataset(std::string("/") + split_name(split) + "/doc_offsets").read_all<int64_t>();
}

void Corpus::read_tokens(Split split, int64_t offset, int64_t count, int32_t* out) const {
  const SplitData& d = at(split);
  ALIBI_CHECK(offset >= 0 && count >= 0 && offset + count <= d.n_tokens,
              "read_tokens(" << split_name(split) << ", " << offset << ", " << count << ") outside the split's "
                             << d.n_tokens << " tokens");
  d.tokens->read_rows(offset, count, out);  // HDF5 widens uint16/uint32 to int32
  const int64_t V = vocab_size();
  for (int64_t i = 0; i < count; ++i)
    if (out[i] < 0 || out[i] >= V)
      fail(d.tokens->name(), "token " + std::to_string(offset + i) + " is " +
                                 std::to_string(static_cast<uint32_t>(out[i])) + ", not below vocab_size " +
                                 std::to_string(V));
}

void Corpus::require_tokens(Split split, int64_t n, const std::string& why) const {
  const int64_t have = size(split);
  ALIBI_CHECK_AS(DataError, have >= n,
                 path_ << ": split " << split_name(split) << " has " << have << " tokens, " << why << " needs "
                       << n << "; use a smaller window or a bigger corpus (alibi preprocess, --valid-fraction / "
                          "--test-fraction)");
}

}  // namespace alibi
