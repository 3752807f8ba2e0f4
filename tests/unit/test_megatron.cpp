// Megatron-LM indexed datasets: a .bin/.idx pair written here from the documented layout
// (int32 and uint16 tokens, documents of several sequences) imports to the same documents
// and tokens; a wrong magic, a truncated file or an id outside the vocabulary is one clear
// error and leaves no corpus behind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/corpus_writer.h"
#include "data/megatron.h"
#include "runtime/error.h"
#include "tests/expect_error.h"
#include "tests/unit/temp_dir.h"

namespace alibi {
namespace {

namespace fs = std::filesystem;

using test::expect_error;
using test::read_file;
using test::write_file;
using test::TempDir;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);  // little-endian host, as the format
  out.append(b, sizeof v);
}

// Writes PREFIX.idx/.bin exactly as the layout says. Each document is a list of
// sequences; the .bin holds the sequences in reverse order, so pointers are not simply
// cumulative (the format does not promise that they are).
template <class T>
void write_megatron(const std::string& prefix, uint8_t dtype_code,
                    const std::vector<std::vector<std::vector<int64_t>>>& docs) {
  std::vector<std::vector<int64_t>> seqs;
  std::vector<int64_t> doc_index{0};
  for (const auto& doc : docs) {
    for (const auto& s : doc) seqs.push_back(s);
    doc_index.push_back(static_cast<int64_t>(seqs.size()));
  }
  std::string bin;
  std::vector<int64_t> pointers(seqs.size());
  for (size_t i = seqs.size(); i-- > 0;) {
    pointers[i] = static_cast<int64_t>(bin.size());
    for (int64_t v : seqs[i]) put(bin, static_cast<T>(v));
  }
  std::string idx("MMIDIDX\0\0", 9);
  put<uint64_t>(idx, 1);
  put<uint8_t>(idx, dtype_code);
  put<uint64_t>(idx, seqs.size());
  put<uint64_t>(idx, doc_index.size());
  for (const auto& s : seqs) put<int32_t>(idx, static_cast<int32_t>(s.size()));
  for (int64_t p : pointers) put<int64_t>(idx, p);
  for (int64_t d : doc_index) put<int64_t>(idx, d);
  write_file(prefix + ".idx", idx);
  write_file(prefix + ".bin", bin);
}

// Documents with ids below 257 (the bytes tokenizer's V), several sequences each; the
// second ends in EOS (256) as Megatron's --append-eod writes it.
const std::vector<std::vector<std::vector<int64_t>>> kDocs = {
    {{1, 2, 3}, {4, 5}},
    {{10, 11, 256}},
    {{255}, {}, {0, 7}},
    {{100, 101, 102, 103}},
    {{42}},
};

std::vector<int32_t> flat(const std::vector<std::vector<int64_t>>& doc) {
  std::vector<int32_t> out;
  for (const auto& s : doc) out.insert(out.end(), s.begin(), s.end());
  return out;
}

template <class T>
void check_import(uint8_t dtype_code, const char* name) {
  TempDir dir;
  const std::string prefix = dir.file("m");
  write_megatron<T>(prefix, dtype_code, kDocs);
  const MegatronDataset ds(prefix);
  EXPECT_EQ(ds.documents(), 5);
  EXPECT_EQ(ds.sequences(), 8);
  EXPECT_EQ(std::string(ds.dtype_name()), name);
  std::vector<int32_t> doc;
  for (int64_t d = 0; d < 5; ++d) {
    ds.read_document(d, doc);
    EXPECT_EQ(doc, flat(kDocs[static_cast<size_t>(d)])) << name << " document " << d;
  }

  const std::vector<Split> split = assign_split_counts(5, 1, 1, 3);
  const std::string out = dir.file("c.h5");
  {
    CorpusWriter writer(out, Tokenizer::bytes());
    const MegatronImportStats stats = import_megatron(ds, split, writer, Tokenizer::bytes());
    EXPECT_EQ(stats.documents, 5);
    EXPECT_EQ(stats.trailing_eos_kept, 1);
    EXPECT_EQ(stats.tokens, 15);  // 16 tokens, the trailing EOS not counted twice
    writer.finish("test");
  }
  const Corpus c(out);
  // Each split holds its documents in order, each with exactly one EOS at its end.
  for (Split s : kSplits) {
    std::vector<int32_t> expected;
    for (size_t d = 0; d < kDocs.size(); ++d) {
      if (split[d] != s) continue;
      std::vector<int32_t> tokens = flat(kDocs[d]);
      if (!tokens.empty() && tokens.back() == 256) tokens.pop_back();
      expected.insert(expected.end(), tokens.begin(), tokens.end());
      expected.push_back(256);
    }
    std::vector<int32_t> got(static_cast<size_t>(c.size(s)));
    c.read_tokens(s, 0, c.size(s), got.data());
    EXPECT_EQ(got, expected) << name << " " << split_name(s);
  }
}

TEST(Megatron, Int32AndUint16DatasetsImportToTheSameDocumentsAndTokens) {
  check_import<int32_t>(4, "int32");
  check_import<uint16_t>(8, "uint16");
}

TEST(Megatron, BadFilesAreOneLineErrors) {
  TempDir dir;
  const std::string good = dir.file("good");
  write_megatron<int32_t>(good, 4, kDocs);
  const std::string idx = read_file(good + ".idx"), bin = read_file(good + ".bin");
  // A variant of the good pair: `edit` changes copies of the two files.
  auto variant = [&](const std::string& name, auto edit) {
    std::string i = idx, b = bin;
    edit(i, b);
    dir.write(name + ".idx", i);
    dir.write(name + ".bin", b);
    return dir.file(name);
  };

  expect_error<IoError>([&] { MegatronDataset ds(dir.file("absent")); }, {"absent.idx", "does not exist"});
  const std::string magic = variant("magic", [](std::string& i, std::string&) { i[0] = 'X'; });
  expect_error<DataError>([&] { MegatronDataset ds(magic); }, {"magic.idx", "MMIDIDX"});
  const std::string version = variant("version", [](std::string& i, std::string&) { i[9] = 2; });
  expect_error<DataError>([&] { MegatronDataset ds(version); }, {"version.idx", "version 2"});
  const std::string floats = variant("floats", [](std::string& i, std::string&) { i[17] = 7; });
  expect_error<DataError>([&] { MegatronDataset ds(floats); }, {"floats.idx", "float32", "cannot hold token ids"});
  const std::string short_idx = variant("short_idx", [](std::string& i, std::string&) { i.resize(i.size() - 8); });
  expect_error<DataError>([&] { MegatronDataset ds(short_idx); }, {"short_idx.idx", "truncated"});
  const std::string short_bin = variant("short_bin", [](std::string&, std::string& b) { b.resize(b.size() - 3); });
  expect_error<DataError>([&] { MegatronDataset ds(short_bin); }, {"short_bin.bin", "truncated"});
  const std::string order = variant("order", [](std::string& i, std::string&) {
    const int64_t bad = 7;  // document_indices[2] = 7 > document_indices[3] = 6
    std::memcpy(&i[i.size() - 8 * 4], &bad, 8);
  });
  expect_error<DataError>([&] { MegatronDataset ds(order); }, {"order.idx", "document_indices"});
  const std::string negative = variant("negative", [](std::string&, std::string& b) {
    const int32_t bad = -5;
    std::memcpy(&b[0], &bad, 4);
  });
  expect_error<DataError>([&] {
    MegatronDataset ds(negative);
    std::vector<int32_t> doc;
    for (int64_t d = 0; d < ds.documents(); ++d) ds.read_document(d, doc);
  }, {"negative.bin", "-5"});

  // An id at or above V: the import stops, and the unfinished corpus is removed.
  const std::string big = dir.file("big");
  write_megatron<uint16_t>(big, 8, {{{1, 2}}, {{3, 300}}, {{4}}});
  const std::string out = dir.file("big.h5");
  expect_error<DataError>([&] {
    MegatronDataset ds(big);
    CorpusWriter writer(out, Tokenizer::bytes());
    import_megatron(ds, assign_split_counts(3, 0, 0, 1), writer, Tokenizer::bytes());
    writer.finish("test");
  }, {"big.bin", "document 1, token 1 is 300", "vocabulary size 257"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(temporary_path(out)));
}

}  // namespace
}  // namespace alibi
