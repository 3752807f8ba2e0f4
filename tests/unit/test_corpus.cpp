// The data room end to end in one process: the HDF5 wrapper (runtime/h5), the byte
// tokenizer, the corpus writer and reader, the sampler and the evaluation windows, and
// the errors a damaged or missing corpus gives.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/corpus_writer.h"
#include "data/sampler.h"
#include "data/tokenizer.h"
#include "runtime/error.h"
#include "runtime/h5.h"
#include "runtime/rng.h"
#include "tests/expect_error.h"
#include "tests/unit/temp_dir.h"

namespace alibi {
namespace {

namespace fs = std::filesystem;

// ---- helpers ------------------------------------------------------------------------------

using test::expect_error;
using test::read_file;
using test::TempDir;

// n documents of varied length (1..max_len bytes) over all 256 byte values.
std::vector<std::string> make_docs(int n, int max_len, uint64_t seed) {
  std::vector<std::string> docs;
  const uint64_t key = rng_key(seed, "test docs");
  uint64_t counter = 0;
  for (int d = 0; d < n; ++d) {
    const int len = 1 + static_cast<int>(rng_below(key, counter++, static_cast<uint64_t>(max_len)));
    std::string s(static_cast<size_t>(len), '\0');
    for (char& c : s) c = static_cast<char>(rng_below(key, counter++, 256));
    docs.push_back(s);
  }
  return docs;
}

struct Written {
  std::vector<Split> split;
  std::vector<std::string> docs;
};

Written write_corpus(const std::string& path, std::vector<std::string> docs, double valid, double test,
                     uint64_t seed, int64_t chunk = CorpusWriter::kChunkTokens) {
  Written w{assign_splits(static_cast<int64_t>(docs.size()), valid, test, seed), std::move(docs)};
  CorpusWriter writer(path, Tokenizer::bytes(), chunk);
  for (size_t d = 0; d < w.docs.size(); ++d) writer.add_document(w.split[d], w.docs[d]);
  writer.finish("unit test");
  return w;
}

// The token stream a split should hold: its documents in order, each + EOS.
std::vector<int32_t> expected_stream(const Written& w, Split s) {
  std::vector<int32_t> out;
  for (size_t d = 0; d < w.docs.size(); ++d) {
    if (w.split[d] != s) continue;
    for (unsigned char c : w.docs[d]) out.push_back(c);
    out.push_back(256);
  }
  return out;
}

std::vector<int32_t> read_split(const Corpus& c, Split s) {
  std::vector<int32_t> out(static_cast<size_t>(c.size(s)));
  c.read_tokens(s, 0, c.size(s), out.data());
  return out;
}

// ---- h5 wrapper -----------------------------------------------------------------------------

TEST(H5, AttributesRoundTripAndMissingOnesNameFileObjectAttribute) {
  TempDir dir;
  const std::string path = dir.file("attrs.h5");
  {
    h5::File f(path, h5::Access::create);
    f.set_string_attr("s", "hello, world");
    f.set_int_attr("i", -1234567890123);
    f.set_double_attr("x", 0.125);
    f.set_int_attr("i", 7);  // replaces
    h5::Group g = f.create_group("a/b");  // parents made
    g.set_string_attr("empty", "");
    h5::Dataset d = g.create_dataset("d", DType::f32, {2});
    d.set_int_attr("n", 2);
    f.close();
  }
  h5::File f(path, h5::Access::read_only);
  EXPECT_EQ(f.string_attr("s"), "hello, world");
  EXPECT_EQ(f.int_attr("i"), 7);
  EXPECT_EQ(f.double_attr("x"), 0.125);
  EXPECT_EQ(f.double_attr("i"), 7.0);  // an integer reads as a number
  EXPECT_EQ(f.attr_names(), (std::vector<std::string>{"i", "s", "x"}));
  EXPECT_TRUE(f.exists("a/b/d"));
  EXPECT_TRUE(f.exists("/a/b"));
  EXPECT_FALSE(f.exists("a/c/d"));  // a missing parent is "no", not an error
  EXPECT_EQ(f.group("a/b").string_attr("empty"), "");
  EXPECT_EQ(f.dataset("/a/b/d").int_attr("n"), 2);
  expect_error<DataError>([&] { f.int_attr("nope"); }, {path, "/", "nope"});
  expect_error<DataError>([&] { f.group("a").string_attr("nope"); }, {path, "/a", "nope"});
  expect_error<DataError>([&] { f.int_attr("s"); }, {path, "'s'", "integer"});
  expect_error<DataError>([&] { f.dataset("a/missing"); }, {path, "/a/missing"});
}

// A variable-length string attribute is stored as its length and a place in the file's
// global heap; HDF5 allocates the stored length before reading. A long string still reads;
// a damaged length is refused before anything is allocated for it.
TEST(H5, StringAttributeLengthIsCheckedAgainstTheFileBeforeReading) {
  TempDir dir;
  const std::string path = dir.file("long.h5");
  const std::string value(700000, 'x');  // 0x000AAE60: longer than any option, under the bound
  {
    h5::File f(path, h5::Access::create);
    f.set_string_attr("long", value);
    f.close();
  }
  EXPECT_EQ(h5::File(path, h5::Access::read_only).string_attr("long"), value);

  // The stored length is those 4 little-endian bytes followed by the heap's (non-zero)
  // address; the heap's own copy of the size is followed by zeros instead.
  std::string bytes = read_file(path);
  const std::string length("\x60\xAE\x0A\x00", 4), zeros(4, '\0');
  std::vector<size_t> at;
  for (size_t p = bytes.find(length); p != std::string::npos; p = bytes.find(length, p + 1))
    if (bytes.compare(p + 4, 4, zeros) != 0) at.push_back(p);
  ASSERT_EQ(at.size(), 1u) << "the attribute's stored length is not where this test expects it";
  // 256 MiB + 1: more than the file and the bound; small enough that a missing check
  // costs this test half a gigabyte, not the machine.
  bytes.replace(at[0], 4, std::string("\x01\x00\x00\x10", 4));
  test::write_file(path, bytes);
  expect_error<DataError>([&] { h5::File(path, h5::Access::read_only).string_attr("long"); },
                          {path, "attribute 'long'", "claims a string of 268435457 bytes", "the whole file"});

  // What the readers refuse, the writers do not make.
  h5::File g(dir.file("too_long.h5"), h5::Access::create);
  g.set_string_attr("at_the_bound", std::string(size_t{1} << 20, 'x'));
  expect_error<IoError>([&] { g.set_string_attr("past_the_bound", std::string((size_t{1} << 20) + 1, 'x')); },
                        {"attribute 'past_the_bound'", "1048577 bytes", "shorten it"});
}

TEST(H5, DatasetsRowsSlabsConversionAndAppend) {
  TempDir dir;
  const std::string path = dir.file("data.h5");
  std::vector<double> m(4 * 3);
  std::iota(m.begin(), m.end(), 0.0);
  {
    h5::File f(path, h5::Access::create);
    h5::Dataset d = f.create_dataset("m", DType::f64, {4, 3}, {.chunk = {2, 3}});
    d.write_all(m);
    const double row[3] = {-1, -2, -3};
    d.write_rows(2, 1, row);
    h5::Dataset e = f.create_dataset("e", DType::u16, {0}, {.chunk = {}, .extendible = true});
    const uint32_t a[3] = {1, 2, 65535};
    e.append_rows<uint32_t>(3, a);  // uint32 in memory, uint16 on disk
    e.append_rows<uint32_t>(2, a);
    h5::Dataset z = f.create_dataset("z", DType::i64, {0});  // an empty fixed dataset
    z.write_all(std::vector<int64_t>{});
    f.close();
  }
  h5::File f(path, h5::Access::read_only);
  h5::Dataset d = f.dataset("m");
  EXPECT_EQ(d.shape(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(d.dtype(), DType::f64);
  std::vector<float> rows(6);
  d.read_rows(1, 2, rows.data());  // double on disk -> float
  EXPECT_EQ(rows, (std::vector<float>{3, 4, 5, -1, -2, -3}));
  std::vector<int32_t> slab(2);
  d.read_slab({3, 1}, {1, 2}, DType::i32, slab.data());
  EXPECT_EQ(slab, (std::vector<int32_t>{10, 11}));
  h5::Dataset e = f.dataset("e");
  EXPECT_EQ(e.dtype(), DType::u16);
  EXPECT_EQ(e.read_all<int32_t>(), (std::vector<int32_t>{1, 2, 65535, 1, 2}));
  EXPECT_EQ(f.dataset("z").size(), 0);
  expect_error<DataError>([&] { d.read_rows(3, 2, rows.data()); }, {path, "/m", "outside"});
}

TEST(H5, CreateInAMissingOrNonDirectoryFailsWithIoError) {
  TempDir dir;
  expect_error<IoError>([&] { h5::File f(dir.file("no/such/dir/x.h5"), h5::Access::create); },
                        {"x.h5", "does not exist"});
  expect_error<IoError>([&] { h5::File f("/etc/passwd/x.h5", h5::Access::create); },
                        {"/etc/passwd/x.h5", "not a directory"});
}

TEST(H5, AtomicRenameAndTemporaryPath) {
  TempDir dir;
  const std::string final = dir.file("f.h5");
  EXPECT_EQ(fs::path(temporary_path(final)).parent_path(), fs::path(final).parent_path());
  test::write_file(temporary_path(final), "x");
  atomic_rename(temporary_path(final), final);
  EXPECT_TRUE(fs::exists(final));
  EXPECT_FALSE(fs::exists(temporary_path(final)));
  expect_error<IoError>([&] { atomic_rename(dir.file("missing"), final); }, {"missing", "f.h5"});
}

// ---- tokenizer ------------------------------------------------------------------------------

TEST(Tokenizer, BytesEncodeDecodeAndGroupRoundTrip) {
  const Tokenizer t = Tokenizer::bytes();
  EXPECT_EQ(t.vocab_size, 257);
  EXPECT_EQ(t.eos_id, 256);
  const std::string text("a\0\xff\n", 4);
  const std::vector<int32_t> ids = t.encode(text);
  EXPECT_EQ(ids, (std::vector<int32_t>{97, 0, 255, 10}));
  std::vector<int32_t> with_eos = ids;
  with_eos.push_back(256);
  EXPECT_EQ(t.decode(with_eos.data(), 5), text);  // EOS is skipped
  const int32_t bad = 300;
  EXPECT_THROW(t.decode(&bad, 1), DataError);

  TempDir dir;
  const std::string path = dir.file("tok.h5");
  {
    h5::File f(path, h5::Access::create);
    h5::Group g = f.create_group("tokenizer");
    t.write_to(g);
    h5::Group other = f.create_group("other");
    other.set_string_attr("kind", "bpe");
    other.set_int_attr("vocab_size", 50257);
    other.set_int_attr("eos_id", 50256);
  }
  h5::File f(path, h5::Access::read_only);
  EXPECT_EQ(Tokenizer::read_from(f.group("tokenizer")), t);
  Tokenizer changed = t;
  changed.eos_id = 0;
  EXPECT_FALSE(changed == t);
  expect_error<DataError>([&] { Tokenizer::read_from(f.group("other")); }, {path, "/other", "bpe"});
}

// ---- splits -----------------------------------------------------------------------------------

// (That a seed gives the same split run after run is tests/e2e/preprocess.sh's: two
// preprocessing runs, compared byte for byte.)
TEST(Splits, CountsAreExactAndTheSeedMatters) {
  const std::vector<Split> a = assign_splits(1000, 0.1, 0.05, 1);
  EXPECT_NE(a, assign_splits(1000, 0.1, 0.05, 2));
  EXPECT_EQ(std::count(a.begin(), a.end(), Split::valid), 100);
  EXPECT_EQ(std::count(a.begin(), a.end(), Split::test), 50);
  EXPECT_EQ(std::count(a.begin(), a.end(), Split::train), 850);
}

TEST(Splits, ExactCountsTakeTheSamePermutation) {
  // --valid-docs / --test-docs: the fractions' permutation, cut at the given counts.
  EXPECT_EQ(assign_split_counts(1000, 100, 50, 1), assign_splits(1000, 0.1, 0.05, 1));
  // One permutation cut twice: valid is its first 100, test the next 50, so the 150 held
  // out are exactly the valid documents of a cut at 150, and valid does not depend on test.
  auto held_out = [](const std::vector<Split>& s, bool test_too) {
    std::vector<bool> out(s.size());
    for (size_t d = 0; d < s.size(); ++d) out[d] = s[d] == Split::valid || (test_too && s[d] == Split::test);
    return out;
  };
  const std::vector<Split> cut = assign_split_counts(1000, 100, 50, 1);
  EXPECT_EQ(held_out(cut, true), held_out(assign_split_counts(1000, 150, 0, 1), false));
  EXPECT_EQ(held_out(cut, false), held_out(assign_split_counts(1000, 100, 0, 1), false));
  const std::vector<Split> s = assign_split_counts(10, 3, 0, 7);
  EXPECT_EQ(std::count(s.begin(), s.end(), Split::valid), 3);
  EXPECT_EQ(std::count(s.begin(), s.end(), Split::test), 0);
  EXPECT_EQ(assign_split_counts(1, 0, 0, 1), std::vector<Split>{Split::train});
  EXPECT_THROW(assign_split_counts(10, 5, 5, 1), ConfigError);  // train needs one
  EXPECT_THROW(assign_split_counts(10, -1, 0, 1), ConfigError);
}

TEST(Splits, SmallCorporaKeepOneDocumentPerSplit) {
  for (int64_t n : {3, 4, 10, 50}) {
    const std::vector<Split> s = assign_splits(n, 0.01, 0.01, 1234);
    EXPECT_EQ(std::count(s.begin(), s.end(), Split::valid), 1) << n;
    EXPECT_EQ(std::count(s.begin(), s.end(), Split::test), 1) << n;
  }
  const std::vector<Split> two = assign_splits(2, 0.01, 0.01, 1);
  EXPECT_EQ(std::count(two.begin(), two.end(), Split::train), 2);  // too few to hold out
  const std::vector<Split> greedy = assign_splits(3, 0.6, 0.3, 1);
  EXPECT_EQ(std::count(greedy.begin(), greedy.end(), Split::train), 1);  // train keeps one
  const std::vector<Split> none = assign_splits(10, 0, 0, 1);
  EXPECT_EQ(std::count(none.begin(), none.end(), Split::train), 10);
  EXPECT_THROW(assign_splits(10, 0.5, 0.5, 1), ConfigError);
  EXPECT_THROW(assign_splits(10, -0.1, 0, 1), ConfigError);
}

// ---- writer and reader -------------------------------------------------------------------------

TEST(Corpus, RoundTripTokensOffsetsAndAttributes) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  // A chunk of 7 tokens makes every split span many chunks with a ragged last one.
  const Written w = write_corpus(path, make_docs(40, 30, 5), 0.2, 0.1, 99, /*chunk=*/7);
  EXPECT_FALSE(fs::exists(temporary_path(path)));

  const Corpus c(path);
  EXPECT_EQ(c.tokenizer(), Tokenizer::bytes());
  EXPECT_EQ(c.vocab_size(), 257);
  EXPECT_EQ(c.source(), "unit test");
  int64_t docs = 0;
  for (Split s : kSplits) {
    const std::vector<int32_t> expected = expected_stream(w, s);
    EXPECT_EQ(c.size(s), static_cast<int64_t>(expected.size())) << split_name(s);
    EXPECT_EQ(read_split(c, s), expected) << split_name(s);
    // doc_offsets: each document ends with its EOS.
    const std::vector<int64_t> offsets = c.doc_offsets(s);
    EXPECT_EQ(static_cast<int64_t>(offsets.size()), c.documents(s) + 1);
    int64_t at = 0;
    size_t k = 1;
    for (size_t d = 0; d < w.docs.size(); ++d) {
      if (w.split[d] != s) continue;
      at += static_cast<int64_t>(w.docs[d].size()) + 1;
      ASSERT_LT(k, offsets.size());
      EXPECT_EQ(offsets[k++], at);
      EXPECT_EQ(expected[static_cast<size_t>(at - 1)], 256);
    }
    docs += c.documents(s);
  }
  EXPECT_EQ(docs, 40);  // every document in exactly one split
  EXPECT_EQ(c.documents(Split::valid), 8);
  EXPECT_EQ(c.documents(Split::test), 4);

  // A read in the middle, across chunk boundaries.
  std::vector<int32_t> part(20);
  c.read_tokens(Split::train, 5, 20, part.data());
  const std::vector<int32_t> train = expected_stream(w, Split::train);
  EXPECT_TRUE(std::equal(part.begin(), part.end(), train.begin() + 5));
}

TEST(Corpus, SameInputsAndSeedGiveTheSameFile) {
  TempDir dir;
  const std::vector<std::string> docs = make_docs(30, 50, 3);
  write_corpus(dir.file("a.h5"), docs, 0.1, 0.1, 7);
  write_corpus(dir.file("b.h5"), docs, 0.1, 0.1, 7);
  write_corpus(dir.file("c.h5"), docs, 0.1, 0.1, 8);
  EXPECT_EQ(read_file(dir.file("a.h5")), read_file(dir.file("b.h5")));
  const Corpus a(dir.file("a.h5")), c(dir.file("c.h5"));
  EXPECT_NE(read_split(a, Split::valid), read_split(c, Split::valid));  // another seed, another split
}

TEST(Corpus, EmptySplitsAreValid) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  write_corpus(path, make_docs(5, 10, 1), 0, 0, 1);
  const Corpus c(path);
  EXPECT_EQ(c.size(Split::valid), 0);
  EXPECT_EQ(c.documents(Split::valid), 0);
  EXPECT_EQ(c.doc_offsets(Split::valid), (std::vector<int64_t>{0}));
  expect_error<DataError>([&] { c.require_tokens(Split::valid, 17, "a window of T=16"); },
                          {path, "valid", "0 tokens", "17"});
}

TEST(Corpus, UnfinishedWriterLeavesNothingBehind) {
  TempDir dir;
  const std::string path = dir.file("c.h5");
  {
    CorpusWriter writer(path, Tokenizer::bytes());
    writer.add_document(Split::train, "abc");
    EXPECT_TRUE(fs::exists(temporary_path(path)));
  }  // destroyed without finish(), as on an exception
  EXPECT_FALSE(fs::exists(temporary_path(path)));
  EXPECT_FALSE(fs::exists(path));
  expect_error<IoError>([&] { CorpusWriter w(dir.file("missing/c.h5"), Tokenizer::bytes()); }, {"missing"});
}

// ---- errors a bad corpus gives -------------------------------------------------------------------

TEST(CorpusErrors, MissingEmptyCorruptTruncatedNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.h5");
  expect_error<IoError>([&] { Corpus c(missing); }, {missing, "does not exist", "alibi preprocess"});

  const std::string empty = dir.write("empty.h5", "");
  expect_error<DataError>([&] { Corpus c(empty); }, {empty, "empty", "alibi preprocess"});

  std::string noise(100000, '\0');
  const uint64_t key = rng_key(1, "noise");
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>(rng_below(key, i, 256));
  const std::string corrupt = dir.write("corrupt.h5", noise);
  expect_error<DataError>([&] { Corpus c(corrupt); }, {corrupt, "not an HDF5 file", "alibi preprocess"});

  const std::string good = dir.file("good.h5");
  write_corpus(good, make_docs(200, 400, 2), 0.1, 0.1, 1);
  const std::string bytes = read_file(good);
  const std::string truncated = dir.write("truncated.h5", bytes.substr(0, bytes.size() / 2));
  expect_error<DataError>([&] { Corpus c(truncated); }, {truncated, "truncated", "alibi preprocess"});

  expect_error<IoError>([&] { Corpus c(dir.file("")); }, {"directory"});
}

TEST(CorpusErrors, SchemaViolationsNameTheField) {
  TempDir dir;
  const std::string base = dir.file("base.h5");
  write_corpus(base, make_docs(10, 20, 4), 0.2, 0.2, 1);
  auto variant = [&](const std::string& name, auto&& change) {
    const std::string path = dir.file(name);
    fs::copy_file(base, path);
    h5::File f(path, h5::Access::read_write);
    change(f);
    f.close();
    return path;
  };
  std::string p = variant("version.h5", [](h5::File& f) { f.set_int_attr("format_version", 2); });
  expect_error<DataError>([&] { Corpus c(p); }, {p, "format_version is 2"});

  p = variant("eos.h5", [](h5::File& f) { f.set_int_attr("eos_id", 300); });
  expect_error<DataError>([&] { Corpus c(p); }, {p, "eos_id"});

  p = variant("tokenizer.h5", [](h5::File& f) {
    f.set_int_attr("vocab_size", 300);
    f.set_int_attr("eos_id", 299);
  });
  expect_error<DataError>([&] { Corpus c(p); }, {p, "/tokenizer"});

  p = variant("offsets.h5", [](h5::File& f) {
    h5::Dataset d = f.dataset("train/doc_offsets");
    const int64_t wrong = 1;
    d.write_rows(d.rows() - 1, 1, &wrong);
  });
  expect_error<DataError>([&] { Corpus c(p); }, {p, "/train/doc_offsets"});

  p = variant("nosplit.h5", [](h5::File& f) { H5Ldelete(f.id(), "test", H5P_DEFAULT); });
  expect_error<DataError>([&] { Corpus c(p); }, {p, "/test", "missing"});

  p = variant("badtoken.h5", [](h5::File& f) {
    const uint16_t big = 999;
    f.dataset("train/tokens").write_rows(3, 1, &big);
  });
  const Corpus c(p);
  std::vector<int32_t> out(static_cast<size_t>(c.size(Split::train)));
  expect_error<DataError>([&] { c.read_tokens(Split::train, 0, c.size(Split::train), out.data()); },
                          {p, "/train/tokens", "token 3 is 999"});
}

// ---- sampler ------------------------------------------------------------------------------------

class SamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("c.h5");
    written_ = write_corpus(path_, make_docs(60, 40, 11), 0.1, 0.1, 3, /*chunk=*/64);
    corpus_.emplace(path_);
    train_ = expected_stream(written_, Split::train);
  }
  TempDir dir_;
  std::string path_;
  Written written_;
  std::optional<Corpus> corpus_;
  std::vector<int32_t> train_;
};

TEST_F(SamplerTest, WindowsAreTheExpectedSlices) {
  const int T = 16, B = 4;
  Sampler s(*corpus_, Split::train, T, 42);
  EXPECT_EQ(s.samples_per_epoch(), (static_cast<int64_t>(train_.size()) - 1) / T);
  std::vector<int32_t> in(B * T), tg(B * T);
  s.next_batch(B, in.data(), tg.data());
  for (int b = 0; b < B; ++b) {
    const int64_t k = s.sample_at(static_cast<uint64_t>(b));
    for (int t = 0; t < T; ++t) {
      EXPECT_EQ(in[b * T + t], train_[k * T + t]);
      EXPECT_EQ(tg[b * T + t], train_[k * T + t + 1]);
    }
  }
  EXPECT_EQ(s.position(), static_cast<uint64_t>(B));
}

TEST_F(SamplerTest, EachEpochIsAPermutationKeyedBySeedAndEpoch) {
  const int64_t n = 1000;
  const std::vector<int64_t> e0 = epoch_permutation(n, 1, 0);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(n);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(e0, epoch_permutation(n, 1, 1));
  EXPECT_NE(e0, epoch_permutation(n, 2, 0));
  EXPECT_NE(e0, iota);

  Sampler s(*corpus_, Split::train, 8, 5);
  const int64_t m = s.samples_per_epoch();
  std::set<int64_t> epoch1;
  for (int64_t p = m; p < 2 * m; ++p) epoch1.insert(s.sample_at(static_cast<uint64_t>(p)));
  EXPECT_EQ(static_cast<int64_t>(epoch1.size()), m);  // every sample once in epoch 1
}

TEST_F(SamplerTest, DataParallelRanksPartitionTheGlobalOrder) {
  const int T = 8, B = 3, dp = 3, steps = 5;
  Sampler whole(*corpus_, Split::train, T, 9);  // dp = 1 takes every position in order
  std::vector<int32_t> all(static_cast<size_t>(steps) * B * dp * T), tg(all.size());
  for (int step = 0; step < steps; ++step)
    whole.next_batch(B * dp, all.data() + step * B * dp * T, tg.data() + step * B * dp * T);
  for (int r = 0; r < dp; ++r) {
    Sampler mine(*corpus_, Split::train, T, 9, r, dp);
    std::vector<int32_t> in(B * T), t(B * T);
    for (int step = 0; step < steps; ++step) {
      mine.next_batch(B, in.data(), t.data());
      EXPECT_EQ(mine.position(), static_cast<uint64_t>((step + 1) * B * dp));
      for (int b = 0; b < B; ++b) {
        const int row = step * B * dp + b * dp + r;  // global position of rank r's b-th window
        EXPECT_TRUE(std::equal(in.begin() + b * T, in.begin() + (b + 1) * T, all.begin() + row * T))
            << "rank " << r << " step " << step << " b " << b;
      }
    }
  }
}

TEST_F(SamplerTest, SetPositionReproducesTheNextBatchAcrossEpochs) {
  const int T = 16, B = 5;
  Sampler a(*corpus_, Split::train, T, 77, 1, 2);
  std::vector<int32_t> in(B * T), tg(B * T), in2(B * T), tg2(B * T);
  // Run past an epoch boundary so the restore lands in epoch >= 1.
  const int64_t batches = a.samples_per_epoch() / (B * 2) + 2;
  for (int64_t i = 0; i < batches; ++i) a.next_batch(B, in.data(), tg.data());
  EXPECT_GE(a.epoch(), 1u);
  const uint64_t saved = a.position();
  a.next_batch(B, in.data(), tg.data());

  Sampler b(*corpus_, Split::train, T, 77, 1, 2);
  b.set_position(saved);
  b.next_batch(B, in2.data(), tg2.data());
  EXPECT_EQ(in, in2);
  EXPECT_EQ(tg, tg2);
}

TEST_F(SamplerTest, TooShortSplitNamesTheSplitAndSize) {
  const int64_t valid = corpus_->size(Split::valid);
  const int T = static_cast<int>(valid);  // needs valid + 1 tokens
  expect_error<DataError>([&] { Sampler s(*corpus_, Split::valid, T, 1); },
                          {path_, "valid", std::to_string(valid) + " tokens", std::to_string(valid + 1)});
  expect_error<DataError>([&] { EvalWindows e(*corpus_, Split::valid, T); }, {"valid"});
}

TEST_F(SamplerTest, EvalWindowsCoverTheSplitInOrderAcrossRanks) {
  const int T = 8, B = 4, dp = 3;
  const std::vector<int32_t> valid = expected_stream(written_, Split::valid);
  const int64_t n = (static_cast<int64_t>(valid.size()) - 1) / T;
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (int r = 0; r < dp; ++r) {
    EvalWindows w(*corpus_, Split::valid, T, r, dp);
    EXPECT_EQ(w.count(), n);
    std::vector<int32_t> in(B * T), tg(B * T);
    int64_t j = 0;  // this rank's window counter
    for (int got; (got = w.next_batch(B, in.data(), tg.data())) > 0;) {
      for (int b = 0; b < got; ++b, ++j) {
        const int64_t k = r + j * dp;
        ++seen[static_cast<size_t>(k)];
        EXPECT_TRUE(std::equal(in.begin() + b * T, in.begin() + (b + 1) * T, valid.begin() + k * T));
        EXPECT_TRUE(std::equal(tg.begin() + b * T, tg.begin() + (b + 1) * T, valid.begin() + k * T + 1));
      }
    }
    EXPECT_EQ(j, w.count_for_rank());
    w.rewind();
    EXPECT_GT(w.next_batch(B, in.data(), tg.data()), 0);
  }
  EXPECT_EQ(seen, std::vector<int>(static_cast<size_t>(n), 1));  // each window exactly once
}

}  // namespace
}  // namespace alibi
