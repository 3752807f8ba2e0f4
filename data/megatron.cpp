// Megatron-LM indexed datasets (.idx + .bin): validation, reading, import.
#include "data/megatron.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr size_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;

struct DtypeInfo {
  const char* name;
  int bytes;
  bool integer;
};
// Index = Megatron's dtype code.
constexpr DtypeInfo kDtypes[] = {{"?", 0, false},      {"uint8", 1, true},   {"int8", 1, true},
                                 {"int16", 2, true},   {"int32", 4, true},   {"int64", 8, true},
                                 {"float64", 8, false}, {"float32", 4, false}, {"uint16", 2, true}};

template <class T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // the files are little-endian, as is every host we run on
  return v;
}

}  // namespace

MegatronDataset::MegatronDataset(const std::string& prefix) : idx_path_(prefix + ".idx"), bin_path_(prefix + ".bin") {
  const std::string fix = "; write it again with Megatron-LM's tools/preprocess_data.py";
  for (const std::string& p : {idx_path_, bin_path_}) {
    std::error_code ec;
    ALIBI_CHECK_AS(IoError, fs::is_regular_file(p, ec),
                   "--megatron " << prefix << ": " << p << " does not exist; give the prefix shared by the .idx "
                                 << "and .bin files (without the extension)");
  }

  // ---- PREFIX.idx ----
  std::ifstream in(idx_path_, std::ios::binary);
  std::ostringstream all;
  all << in.rdbuf();
  ALIBI_CHECK_AS(IoError, !in.bad(), "cannot read " << idx_path_);
  const std::string idx = all.str();
  const auto* p = reinterpret_cast<const unsigned char*>(idx.data());
  ALIBI_CHECK_AS(DataError, idx.size() >= kHeaderBytes && std::memcmp(p, kMagic, 9) == 0,
                 idx_path_ << ": not a Megatron-LM index (the file does not start with MMIDIDX\\0\\0)" << fix);
  const uint64_t version = load<uint64_t>(p + 9);
  ALIBI_CHECK_AS(DataError, version == 1,
                 idx_path_ << ": index version " << version << ", this build reads version 1" << fix);
  dtype_code_ = p[17];
  ALIBI_CHECK_AS(DataError, dtype_code_ >= 1 && dtype_code_ <= 8,
                 idx_path_ << ": dtype code " << dtype_code_ << " is not one of 1..8" << fix);
  ALIBI_CHECK_AS(DataError, kDtypes[dtype_code_].integer,
                 idx_path_ << ": dtype " << kDtypes[dtype_code_].name << " (code " << dtype_code_
                           << ") cannot hold token ids; a token corpus is stored as integers");
  item_bytes_ = kDtypes[dtype_code_].bytes;
  const uint64_t S = load<uint64_t>(p + 18), D = load<uint64_t>(p + 26);
  constexpr uint64_t kMaxCount = uint64_t{1} << 40;  // keeps the size arithmetic below exact
  const uint64_t expected = S < kMaxCount && D < kMaxCount ? kHeaderBytes + 12 * S + 8 * D : 0;
  ALIBI_CHECK_AS(DataError, expected > 0 && idx.size() == expected,
                 idx_path_ << ": " << S << " sequences and " << D << " document indices need " << expected
                           << " bytes, the file has " << idx.size()
                           << (idx.size() < expected ? " (truncated)" : "") << fix);
  lengths_.resize(S);
  pointers_.resize(S);
  doc_index_.resize(D);
  if (S) std::memcpy(lengths_.data(), p + kHeaderBytes, 4 * S);
  if (S) std::memcpy(pointers_.data(), p + kHeaderBytes + 4 * S, 8 * S);
  if (D) std::memcpy(doc_index_.data(), p + kHeaderBytes + 12 * S, 8 * D);
  ALIBI_CHECK_AS(DataError, D >= 1 && doc_index_.front() == 0 && doc_index_.back() == static_cast<int64_t>(S),
                 idx_path_ << ": document_indices must start at 0 and end at the sequence count " << S << fix);
  for (size_t i = 1; i < D; ++i)
    ALIBI_CHECK_AS(DataError, doc_index_[i] >= doc_index_[i - 1],
                   idx_path_ << ": document_indices decrease at document " << i - 1 << fix);

  // ---- PREFIX.bin ----
  const int fd = ::open(bin_path_.c_str(), O_RDONLY);
  ALIBI_CHECK_AS(IoError, fd >= 0, "cannot open " << bin_path_ << ": " << std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  bin_size_ = static_cast<size_t>(st.st_size);
  if (bin_size_ > 0) {
    void* m = ::mmap(nullptr, bin_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    ALIBI_CHECK_AS(IoError, m != MAP_FAILED, "cannot map " << bin_path_ << ": " << std::strerror(err));
    bin_ = static_cast<const unsigned char*>(m);
  } else {
    ::close(fd);
  }
  for (size_t i = 0; i < S; ++i) {
    const int64_t len = lengths_[i], at = pointers_[i];
    if (len < 0 || at < 0 || static_cast<uint64_t>(at) + static_cast<uint64_t>(len) * item_bytes_ > bin_size_) {
      if (bin_) ::munmap(const_cast<unsigned char*>(bin_), bin_size_);
      throw DataError(bin_path_ + ": sequence " + std::to_string(i) + " (" + std::to_string(len) + " tokens at byte " +
                      std::to_string(at) + ") lies outside the file's " + std::to_string(bin_size_) +
                      " bytes: the .bin is truncated or does not belong to " + idx_path_ + fix);
    }
    total_tokens_ += len;
  }
}

MegatronDataset::~MegatronDataset() {
  if (bin_) ::munmap(const_cast<unsigned char*>(bin_), bin_size_);
}

const char* MegatronDataset::dtype_name() const { return kDtypes[dtype_code_].name; }

void MegatronDataset::read_document(int64_t d, std::vector<int32_t>& out) const {
  ALIBI_CHECK(d >= 0 && d < documents(), "read_document(" << d << ") of " << documents() << " documents");
  out.clear();
  for (int64_t s = doc_index_[d]; s < doc_index_[d + 1]; ++s) {
    const unsigned char* p = bin_ + pointers_[s];
    for (int32_t i = 0; i < lengths_[s]; ++i, p += item_bytes_) {
      int64_t v = 0;
      switch (dtype_code_) {
        case 1: v = *p; break;
        case 2: v = static_cast<int8_t>(*p); break;
        case 3: v = load<int16_t>(p); break;
        case 4: v = load<int32_t>(p); break;
        case 5: v = load<int64_t>(p); break;
        case 8: v = load<uint16_t>(p); break;
      }
      ALIBI_CHECK_AS(DataError, v >= 0 && v <= INT32_MAX,
                     bin_path_ << ": document " << d << ", token " << out.size() << " is " << v
                               << ", not a token id (negative or above 2^31)");
      out.push_back(static_cast<int32_t>(v));
    }
  }
}

MegatronImportStats import_megatron(const MegatronDataset& ds, const std::vector<Split>& split, CorpusWriter& writer,
                                    const Tokenizer& tokenizer, const std::function<void(int64_t)>& progress) {
  ALIBI_CHECK(static_cast<int64_t>(split.size()) == ds.documents(), "import_megatron: one split per document");
  MegatronImportStats stats;
  std::vector<int32_t> doc;
  for (int64_t d = 0; d < ds.documents(); ++d) {
    ds.read_document(d, doc);
    for (size_t i = 0; i < doc.size(); ++i)
      ALIBI_CHECK_AS(DataError, doc[i] < tokenizer.vocab_size,
                     ds.bin_path() << ": document " << d << ", token " << i << " is " << doc[i]
                                   << ", at or above the vocabulary size " << tokenizer.vocab_size << " of "
                                   << tokenizer.describe()
                                   << "; import with the tokenizer the data was made with (--tokenizer gpt2 "
                                      "--gpt2-files DIR, or --tokenizer-from CORPUS.h5)");
    int64_t n = static_cast<int64_t>(doc.size());
    if (n > 0 && doc.back() == tokenizer.eos_id) --n, ++stats.trailing_eos_kept;
    writer.add_tokens(split[static_cast<size_t>(d)], doc.data(), n);
    stats.documents += 1;
    stats.tokens += n;
    if (progress && (d % 4096 == 0 || d + 1 == ds.documents())) progress(d + 1);
  }
  return stats;
}

}  // namespace alibi
