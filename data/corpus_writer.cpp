// The corpus writer and the seeded split assignment.
#include "data/corpus_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "runtime/error.h"
#include "runtime/rng.h"

namespace alibi {

namespace fs = std::filesystem;

// ---- splits -------------------------------------------------------------------------------

std::vector<Split> assign_splits(int64_t n_docs, double valid_fraction, double test_fraction, uint64_t seed) {
  ALIBI_CHECK_AS(ConfigError, valid_fraction >= 0 && valid_fraction < 1,
                 "--valid-fraction " << valid_fraction << " must be in [0, 1)");
  ALIBI_CHECK_AS(ConfigError, test_fraction >= 0 && test_fraction < 1,
                 "--test-fraction " << test_fraction << " must be in [0, 1)");
  ALIBI_CHECK_AS(ConfigError, valid_fraction + test_fraction < 1,
                 "--valid-fraction " << valid_fraction << " + --test-fraction " << test_fraction
                                     << " must leave documents for training (sum below 1)");
  auto count = [&](double fraction) {
    int64_t k = std::llround(static_cast<double>(n_docs) * fraction);
    if (fraction > 0 && n_docs >= 3) k = std::max<int64_t>(k, 1);
    return k;
  };
  int64_t n_valid = count(valid_fraction), n_test = count(test_fraction);
  // Train keeps at least one document; take back from the larger held-out split.
  while (n_docs > 0 && n_valid + n_test > n_docs - 1) (n_valid >= n_test ? n_valid : n_test) -= 1;

  return assign_split_counts(n_docs, n_valid, n_test, seed);
}

std::vector<Split> assign_split_counts(int64_t n_docs, int64_t n_valid, int64_t n_test, uint64_t seed) {
  ALIBI_CHECK_AS(ConfigError, n_valid >= 0 && n_test >= 0,
                 "--valid-docs " << n_valid << " and --test-docs " << n_test << " must be >= 0");
  ALIBI_CHECK_AS(ConfigError, n_docs == 0 || n_valid + n_test <= n_docs - 1,
                 "--valid-docs " << n_valid << " + --test-docs " << n_test << " leave no training document of the "
                                 << n_docs << "; hold out fewer");
  // Fisher-Yates over the document indices with counter-based numbers: the assignment
  // depends only on (n_docs, counts, seed).
  std::vector<int64_t> order(static_cast<size_t>(n_docs));
  std::iota(order.begin(), order.end(), 0);
  const uint64_t key = rng_key(seed, "split");
  for (int64_t i = n_docs - 1; i > 0; --i)
    std::swap(order[i], order[rng_below(key, static_cast<uint64_t>(i), static_cast<uint64_t>(i + 1))]);

  std::vector<Split> split(static_cast<size_t>(n_docs), Split::train);
  for (int64_t i = 0; i < n_valid; ++i) split[order[i]] = Split::valid;
  for (int64_t i = n_valid; i < n_valid + n_test; ++i) split[order[i]] = Split::test;
  return split;
}

// ---- writer ------------------------------------------------------------------------------

CorpusWriter::CorpusWriter(const std::string& path, const Tokenizer& tokenizer, int64_t chunk_tokens)
    : path_(path),
      tmp_path_(temporary_path(path)),
      tokenizer_(tokenizer),
      chunk_tokens_(chunk_tokens),
      token_type_(tokenizer.vocab_size <= 65536 ? DType::u16 : DType::u32) {
  ALIBI_CHECK(chunk_tokens_ >= 1, "CorpusWriter chunk_tokens must be >= 1 (got " << chunk_tokens_ << ")");
  // Name the output, not its temporary twin, when the directory is the problem.
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  ALIBI_CHECK_AS(IoError, fs::exists(st), "cannot write " << path << ": directory " << dir.string()
                                                          << " does not exist; create it first");
  ALIBI_CHECK_AS(IoError, fs::is_directory(st), "cannot write " << path << ": " << dir.string()
                                                                << " is not a directory; choose another path");
  file_.emplace(tmp_path_, h5::Access::create);
  for (Split s : kSplits) file_->create_group(split_name(s));
}

CorpusWriter::~CorpusWriter() {
  if (finished_) return;
  for (SplitState& s : splits_) s.tokens.reset();
  file_.reset();  // closes quietly: the file is going anyway
  remove_file_quietly(tmp_path_);
}

void CorpusWriter::add_document(Split split, std::string_view text) {
  scratch_.clear();
  if (!encoder_) encoder_.emplace(tokenizer_);
  encoder_->encode(text, scratch_);
  add_tokens(split, scratch_.data(), static_cast<int64_t>(scratch_.size()));
}

void CorpusWriter::add_tokens(Split split, const int32_t* ids, int64_t n) {
  ALIBI_CHECK(!finished_, "CorpusWriter::add_tokens after finish");
  SplitState& s = splits_[static_cast<size_t>(split)];
  for (int64_t i = 0; i < n; ++i) {
    ALIBI_CHECK_AS(DataError, ids[i] >= 0 && ids[i] < tokenizer_.vocab_size,
                   "token id " << ids[i] << " of document " << s.stats.docs << " (" << split_name(split)
                               << ") is outside the vocabulary [0, " << tokenizer_.vocab_size << ")");
    s.pending.push_back(static_cast<uint32_t>(ids[i]));
    if (static_cast<int64_t>(s.pending.size()) >= chunk_tokens_) flush_chunks(split, false);
  }
  s.pending.push_back(static_cast<uint32_t>(tokenizer_.eos_id));
  s.stats.tokens += n + 1;
  s.stats.docs += 1;
  s.offsets.push_back(s.stats.tokens);
  if (static_cast<int64_t>(s.pending.size()) >= chunk_tokens_) flush_chunks(split, false);
}

// Writes the pending tokens in whole chunks (or all of them at the end). Each write
// appends exactly the chunks it covers, so no chunk is written twice.
void CorpusWriter::flush_chunks(Split split, bool everything) {
  SplitState& s = splits_[static_cast<size_t>(split)];
  const int64_t pending = static_cast<int64_t>(s.pending.size());
  const int64_t n = everything ? pending : pending / chunk_tokens_ * chunk_tokens_;
  if (!s.tokens) {
    // A split that never fills a chunk gets one chunk of its own size: small corpora
    // then stay small on disk.
    const int64_t chunk = everything ? std::clamp<int64_t>(pending, 1, chunk_tokens_) : chunk_tokens_;
    s.tokens = file_->create_dataset(std::string(split_name(split)) + "/tokens", token_type_, {0},
                                     {.chunk = {chunk}, .extendible = true});
  }
  if (n == 0) return;
  s.tokens->append_rows(n, s.pending.data());  // HDF5 narrows uint32 to the stored uint16
  s.pending.erase(s.pending.begin(), s.pending.begin() + n);
}

void CorpusWriter::finish(const std::string& source) {
  ALIBI_CHECK(!finished_, "CorpusWriter::finish called twice");
  for (Split split : kSplits) {
    flush_chunks(split, true);
    SplitState& s = splits_[static_cast<size_t>(split)];
    const int64_t n = static_cast<int64_t>(s.offsets.size());
    h5::Dataset offsets = file_->create_dataset(std::string(split_name(split)) + "/doc_offsets", DType::i64, {n},
                                                {.chunk = {std::min<int64_t>(n, 65536)}});
    offsets.write_all(s.offsets);
    s.tokens.reset();
  }
  {
    h5::Group tokenizer_group = file_->create_group("tokenizer");
    tokenizer_.write_to(tokenizer_group);
  }  // closed here, so that close() below is the file's last handle and checks the close
  file_->set_int_attr("format_version", kCorpusFormatVersion);
  file_->set_int_attr("vocab_size", tokenizer_.vocab_size);
  file_->set_int_attr("eos_id", tokenizer_.eos_id);
  file_->set_string_attr("source", source);
  file_->close();
  file_.reset();
  atomic_rename(tmp_path_, path_);
  finished_ = true;
}

}  // namespace alibi
