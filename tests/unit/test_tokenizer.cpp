// The byte-level BPE tokenizer: UTF-8 classes, GPT-2 pre-splitting, training (a small
// hand-worked example), encoding against GPT-2's reference algorithm, exact round trips
// on random bytes and real text, and the /tokenizer group (round trip, mismatch, damage).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/bpe_tables.h"
#include "data/bpe_trainer.h"
#include "data/corpus.h"
#include "data/corpus_writer.h"
#include "data/pretokenize.h"
#include "data/text_encoder.h"
#include "data/tokenizer.h"
#include "data/unicode.h"
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
using test::TempDir;

// Real text: this repository's own sources and docs (always there), in a fixed order.
std::vector<std::string> repository_texts() {
  std::vector<std::string> paths;
  for (const char* dir : {"data", "runtime", "launch"})
    for (const auto& e : fs::directory_iterator(fs::path(ALIBI_SOURCE_DIR) / dir))
      if (e.is_regular_file()) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> texts;
  for (const std::string& p : paths) texts.push_back(test::read_file(p));
  return texts;
}

std::string random_bytes(size_t n, uint64_t seed) {
  const uint64_t key = rng_key(seed, "tokenizer test bytes");
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng_below(key, i, 256));
  return s;
}

// A BPE tokenizer trained on the repository's text (milliseconds).
const Tokenizer& repo_tokenizer() {
  static const Tokenizer t = [] {
    WordCounts words;
    for (const std::string& text : repository_texts()) words.add_text(text);
    return train_bpe(words, 1024);
  }();
  return t;
}

// GPT-2's bpe() as written in encoder.py: find the lowest-rank adjacent pair, merge every
// occurrence of it left to right, repeat. The reference the encoder is compared with.
class ReferenceBpe {
 public:
  explicit ReferenceBpe(const Tokenizer& t) : t_(t) {
    for (size_t r = 0; r < t.merges.size(); ++r)
      rank_.emplace(std::pair{t.merges[r].left, t.merges[r].right}, static_cast<int32_t>(r));
    for (size_t id = 0; id < t.vocab.size(); ++id)
      if (static_cast<int64_t>(id) != t.eos_id) id_of_[t.vocab[id]] = static_cast<int32_t>(id);
  }
  std::vector<int32_t> operator()(std::string_view piece) const {
    std::vector<int32_t> word;
    for (char c : piece) word.push_back(id_of_.at(std::string(1, c)));
    while (word.size() > 1) {
      int32_t best = INT32_MAX;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = rank_.find({word[i], word[i + 1]});
        if (it != rank_.end()) best = std::min(best, it->second);
      }
      if (best == INT32_MAX) break;
      const Merge m = t_.merges[static_cast<size_t>(best)];
      const int32_t merged = id_of_.at(t_.vocab[m.left] + t_.vocab[m.right]);
      std::vector<int32_t> next;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == m.left && word[i + 1] == m.right) {
          next.push_back(merged);
          i += 2;
        } else {
          next.push_back(word[i++]);
        }
      }
      word.swap(next);
    }
    return word;
  }

 private:
  const Tokenizer& t_;
  std::map<std::pair<int32_t, int32_t>, int32_t> rank_;
  std::map<std::string, int32_t> id_of_;
};

std::vector<std::string> pieces_of(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view p : gpt2_split(text)) out.emplace_back(p);
  return out;
}

// ---- UTF-8 and character classes -----------------------------------------------------------

TEST(Unicode, DecodesValidSequencesAndTakesInvalidBytesOneByOne) {
  auto decode = [](const std::string& s) { return decode_utf8(s.data(), s.data() + s.size()); };
  EXPECT_EQ(decode("A").value, U'A');
  const CodePoint e = decode("\xC3\xA9");  // é
  EXPECT_EQ(e.value, 0xE9u);
  EXPECT_EQ(e.length, 2);
  EXPECT_EQ(e.cls, CharClass::letter);
  const CodePoint smile = decode("\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(smile.value, 0x1F600u);
  EXPECT_EQ(smile.length, 4);
  EXPECT_EQ(smile.cls, CharClass::other);
  // Invalid: a stray continuation byte, an overlong '/', a surrogate, a byte past F4, a
  // sequence cut short by the end, and one cut short by an ASCII byte.
  for (const std::string& bad : {std::string("\x80"), std::string("\xC0\xAF"), std::string("\xED\xA0\x80"),
                                 std::string("\xF5\x80\x80\x80"), std::string("\xE2\x82"), std::string("\xE2\x82x")}) {
    const CodePoint c = decode(bad);
    EXPECT_EQ(c.length, 1) << bad;
    EXPECT_EQ(c.cls, CharClass::other) << bad;
  }
  std::string utf8;
  for (char32_t cp : {U'a', char32_t{0xE9}, char32_t{0x20AC}, char32_t{0x1F600}}) append_utf8(cp, utf8);
  EXPECT_EQ(utf8, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(Unicode, ClassesFollowJavaScriptsLetterNumberAndSpace) {
  EXPECT_EQ(char_class(U'z'), CharClass::letter);
  EXPECT_EQ(char_class(0x65E5), CharClass::letter);  // 日 (Lo)
  EXPECT_EQ(char_class(0x01C5), CharClass::letter);  // ǅ (Lt)
  EXPECT_EQ(char_class(0x02B0), CharClass::letter);  // ʰ (Lm)
  EXPECT_EQ(char_class(U'7'), CharClass::number);
  EXPECT_EQ(char_class(0x0663), CharClass::number);  // Arabic-Indic three (Nd)
  EXPECT_EQ(char_class(0x216B), CharClass::number);  // Roman numeral twelve (Nl)
  EXPECT_EQ(char_class(0x00BD), CharClass::number);  // ½ (No)
  EXPECT_EQ(char_class(U'\t'), CharClass::space);
  EXPECT_EQ(char_class(0x00A0), CharClass::space);
  EXPECT_EQ(char_class(0x3000), CharClass::space);
  EXPECT_EQ(char_class(0xFEFF), CharClass::space);   // JavaScript's \s has it; Python's does not
  EXPECT_EQ(char_class(0x0085), CharClass::other);   // ... and Python's has this one
  EXPECT_EQ(char_class(0x001C), CharClass::other);
  EXPECT_EQ(char_class(0x0301), CharClass::other);   // a combining accent (Mn)
  EXPECT_EQ(char_class(U'!'), CharClass::other);
}

// ---- pre-splitting --------------------------------------------------------------------------

TEST(Pretokenize, SplitsLikeGpt2sRegex) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces_of("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces_of("I'm here's it'll"), (V{"I", "'m", " here", "'s", " it", "'ll"}));
  EXPECT_EQ(pieces_of("I'M 'x"), (V{"I", "'", "M", " '", "x"}));  // contractions are case-sensitive
  EXPECT_EQ(pieces_of("it's!'s"), (V{"it", "'s", "!'", "s"}));   // a run of others takes the quote
  EXPECT_EQ(pieces_of("abc123 456def"), (V{"abc", "123", " 456", "def"}));
  EXPECT_EQ(pieces_of("  hi"), (V{" ", " hi"}));                  // the last space joins the word
  EXPECT_EQ(pieces_of("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces_of("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(pieces_of("x   "), (V{"x", "   "}));                  // trailing space stays together
  EXPECT_EQ(pieces_of(" !!? ..."), (V{" !!?", " ..."}));
  EXPECT_EQ(pieces_of("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"), (V{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC"}));
  EXPECT_EQ(pieces_of("a\xFF\xFE b\x80"), (V{"a", "\xFF\xFE", " b", "\x80"}));  // invalid bytes are `other`
  EXPECT_EQ(pieces_of(""), V{});
}

TEST(Pretokenize, PiecesConcatenateToAnyInput) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::string text = random_bytes(2000 + seed * 37, seed);
    std::string joined;
    for (std::string_view p : gpt2_split(text)) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text);
  }
}

// ---- training ------------------------------------------------------------------------------

// Sennrich et al.'s example as word counts: low x5, lower x2, newest x6, widest x3.
// Worked by hand (ties go to the smaller left id, bytes before merged tokens):
//   pairs at the start: es 9, st 9, we 8 (lower 2 + newest 6), lo 7, ow 7, ne 6, ew 6, ...
//    1 e+s      9  (ties st; 'e' < 's')     newest = n e w es t, widest = w i d es t
//    2 es+t     9                           (we is now 2: only in lower)
//    3 l+o      7  (ties ow; 'l' < 'o')
//    4 lo+w     7                           low, low e r
//    5 e+w      6  (ties ne, w+est; 'e' smallest)
//    6 n+ew     6  (ties ew+est; 'n' < the id of ew)
//    7 new+est  6
//    8 d+est    3  (ties wi, id; 'd' smallest)
//    9 i+dest   3   10 w+idest 3
//   11 e+r      2  (ties low+e; 'e' < the id of low)   12 low+er 2
// and then no pair is left.
TEST(BpeTrainer, LearnsTheHandWorkedMerges) {
  WordCounts words;
  words.add("low", 5);
  words.add("lower", 2);
  words.add("newest", 6);
  words.add("widest", 3);
  const Tokenizer t = train_bpe(words, 1000);  // more than there is to learn: stops at 12
  std::vector<std::pair<std::string, std::string>> learned;
  for (const Merge& m : t.merges) learned.emplace_back(t.vocab[m.left], t.vocab[m.right]);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"e", "s"}, {"es", "t"},   {"l", "o"},   {"lo", "w"},     {"e", "w"}, {"n", "ew"},
      {"new", "est"}, {"d", "est"}, {"i", "dest"}, {"w", "idest"}, {"e", "r"}, {"low", "er"}};
  EXPECT_EQ(learned, expected);
  EXPECT_EQ(t.kind, TokenizerKind::bpe);
  EXPECT_EQ(t.vocab_size, 256 + 12 + 1);
  EXPECT_EQ(t.eos_id, 256 + 12);
  EXPECT_EQ(t.vocab[256 + 11], "lower");
  EXPECT_EQ(t.vocab[static_cast<size_t>(t.eos_id)], kEosName);

  // Four merges (V = 256 + 4 + EOS): "lowest" is low + est; "newer" stays bytes but "lo".
  const Tokenizer four = train_bpe(words, 261);
  ASSERT_EQ(four.merges.size(), 4u);
  EXPECT_EQ(four.encode("lowest"), (std::vector<int32_t>{259, 257}));  // 256 es, 257 est, 258 lo, 259 low
  EXPECT_EQ(four.encode("slow"), (std::vector<int32_t>{'s', 259}));
  EXPECT_EQ(four.eos_id, 260);
  EXPECT_THROW(train_bpe(words, 256), ConfigError);
}

TEST(BpeTrainer, CountsWordsAcrossThreadsTheSame) {
  const std::vector<std::string> texts = repository_texts();
  WordCounts all, a, b;
  for (size_t i = 0; i < texts.size(); ++i) {
    all.add_text(texts[i]);
    (i % 2 ? a : b).add_text(texts[i]);
  }
  a.merge(b);
  EXPECT_EQ(a.total(), all.total());
  EXPECT_EQ(a.table(), all.table());
  // Equal tables built in another order iterate in another order: training must not care.
  EXPECT_EQ(train_bpe(a, 400), train_bpe(all, 400));
}

// ---- encoding -------------------------------------------------------------------------------

TEST(TextEncoder, MergesLikeGpt2sReferenceAlgorithm) {
  const Tokenizer& t = repo_tokenizer();
  ASSERT_EQ(t.vocab_size, 1024);
  TextEncoder enc(t);
  const ReferenceBpe reference_bpe(t);
  std::vector<std::string> pieces;
  for (const std::string& text : repository_texts())
    for (std::string_view p : gpt2_split(text)) pieces.emplace_back(p);
  ASSERT_GT(pieces.size(), 10000u);
  // Every 7th piece of real text, plus repeats and random bytes (pieces need not be words).
  for (size_t i = 0; i < pieces.size(); i += 7) {
    std::vector<int32_t> ids;
    enc.encode_piece(pieces[i], ids);
    ASSERT_EQ(ids, reference_bpe(pieces[i])) << "piece '" << pieces[i] << "'";
  }
  for (const std::string& s : {std::string(300, '='), std::string(257, ' '), std::string("                ") + "int",
                               random_bytes(500, 3)}) {
    std::vector<int32_t> ids;
    enc.encode_piece(s, ids);
    EXPECT_EQ(ids, reference_bpe(s));
  }
}

TEST(TextEncoder, CacheGivesTheSameIdsAndStaysBounded) {
  const Tokenizer& t = repo_tokenizer();
  TextEncoder cached(t);
  std::string text;
  for (const std::string& s : repository_texts()) text += s;
  std::vector<int32_t> first, second, uncached;
  cached.encode(text, first);
  cached.encode(text, second);  // now from the cache
  for (std::string_view p : gpt2_split(text)) TextEncoder(t).encode_piece(p, uncached);
  EXPECT_EQ(first, uncached);
  EXPECT_EQ(second, uncached);
  EXPECT_GT(cached.cached_pieces(), 1000u);
  EXPECT_LT(cached.cached_pieces(), TextEncoder::kCacheLimit);
}

TEST(TextEncoder, RoundTripsRandomBytesExactly) {
  const Tokenizer& t = repo_tokenizer();
  TextEncoder enc(t);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    std::string text = random_bytes(5000, 100 + seed);
    text += std::string(10000, static_cast<char>(seed));  // a long run of one byte: one piece
    std::vector<int32_t> ids;
    enc.encode(text, ids);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t.vocab_size && id != t.eos_id);
    EXPECT_EQ(t.decode(ids.data(), static_cast<int64_t>(ids.size())), text);
  }
}

TEST(TextEncoder, RoundTripsRealTextAndCompressesIt) {
  const Tokenizer& t = repo_tokenizer();
  TextEncoder enc(t);
  std::vector<std::string> texts = repository_texts();
  const fs::path docs = "/usr/share/doc/linux-doc-6.1/html/_sources/translations";  // other scripts, when installed
  for (const char* f : {"zh_CN/index.rst.txt", "ja_JP/howto.rst.txt", "it_IT/process/howto.rst.txt"})
    if (fs::exists(docs / f)) texts.push_back(test::read_file((docs / f).string()));
  size_t bytes = 0, tokens = 0;
  for (const std::string& text : texts) {
    std::vector<int32_t> ids;
    enc.encode(text, ids);
    EXPECT_EQ(t.decode(ids.data(), static_cast<int64_t>(ids.size())), text);
    bytes += text.size();
    tokens += ids.size();
  }
  // 1024 ids trained on this text: well under one token per byte (about 0.35 measured;
  // 0.6 leaves room for the sources to change).
  EXPECT_LT(static_cast<double>(tokens) / static_cast<double>(bytes), 0.6);
}

TEST(Tokenizer, DecodeSkipsEosAndRejectsIdsOutsideTheVocabulary) {
  const Tokenizer& t = repo_tokenizer();
  std::vector<int32_t> ids = t.encode("int main() { return 0; }");
  ids.insert(ids.begin() + 2, static_cast<int32_t>(t.eos_id));
  EXPECT_EQ(t.decode(ids.data(), static_cast<int64_t>(ids.size())), "int main() { return 0; }");
  const int32_t bad[2] = {5, static_cast<int32_t>(t.vocab_size)};
  expect_error<DataError>([&] { t.decode(bad, 2); }, {"1024", "position 1", "bpe"});
}

// ---- the /tokenizer group --------------------------------------------------------------------

TEST(Tokenizer, BpeGroupRoundTripsAndAnyDifferenceIsAMismatch) {
  const Tokenizer& t = repo_tokenizer();
  TempDir dir;
  const std::string path = dir.file("tok.h5");
  {
    h5::File f(path, h5::Access::create);
    h5::Group g = f.create_group("tokenizer");
    t.write_to(g);
    f.close();
  }
  h5::File f(path, h5::Access::read_only);
  const Tokenizer back = Tokenizer::read_from(f.group("tokenizer"));
  EXPECT_EQ(back, t);
  EXPECT_EQ(back.encode("std::vector<int32_t>"), t.encode("std::vector<int32_t>"));
  EXPECT_NE(t.describe().find("bpe (V=1024, EOS=1023, "), std::string::npos) << t.describe();

  // Same size, one merge different: not equal, and the descriptions tell them apart.
  std::vector<Merge> merges = t.merges;
  std::swap(merges[10], merges[11]);
  const Tokenizer other = Tokenizer::from_bpe(TokenizerKind::bpe, t.vocab, merges, t.eos_id, "test");
  EXPECT_FALSE(other == t);
  EXPECT_NE(other.describe(), t.describe());
  EXPECT_FALSE(Tokenizer::bytes() == t);
}

TEST(Tokenizer, DamagedGroupsAreOneLineErrorsNamingFileAndField) {
  const Tokenizer& t = repo_tokenizer();
  TempDir dir;
  // Writes a tokenizer group, lets `damage` change it, and returns the read error.
  auto damaged = [&](const std::string& name, auto damage, std::initializer_list<std::string> parts) {
    const std::string path = dir.file(name + ".h5");
    {
      h5::File f(path, h5::Access::create);
      h5::Group g = f.create_group("tokenizer");
      t.write_to(g);
      damage(f, g);
      f.close();
    }
    h5::File f(path, h5::Access::read_only);
    expect_error<DataError>([&] { Tokenizer::read_from(f.group("tokenizer")); }, parts);
  };
  damaged("kind", [](h5::File&, h5::Group& g) { g.set_string_attr("kind", "wordpiece"); },
          {"kind.h5", "/tokenizer", "wordpiece"});
  damaged("no-merges", [](h5::File& f, h5::Group&) { H5Ldelete(f.id(), "/tokenizer/merges", H5P_DEFAULT); },
          {"no-merges.h5", "/tokenizer", "merges", "missing"});
  damaged("vocab-size", [](h5::File&, h5::Group& g) { g.set_int_attr("vocab_size", 1000); },
          {"vocab-size.h5", "vocab_offsets", "1001"});
  damaged("merge-id", [](h5::File& f, h5::Group&) {
            const int32_t bad[2] = {5000, 1};
            f.dataset("/tokenizer/merges").write_rows(3, 1, bad);
          },
          {"merge-id.h5", "/tokenizer", "merge 3", "5000"});
  damaged("merge-join", [](h5::File& f, h5::Group&) {
            const int32_t bad[2] = {'q', 'q'};  // "qq" is not a token of this vocabulary
            f.dataset("/tokenizer/merges").write_rows(0, 1, bad);
          },
          {"merge-join.h5", "merge 0", "'qq'", "not in the vocabulary"});
  damaged("byte", [](h5::File& f, h5::Group&) {
            const uint16_t b = 300;
            f.dataset("/tokenizer/vocab_bytes").write_rows(0, 1, &b);
          },
          {"byte.h5", "vocab_bytes", "300"});
  damaged("eos", [](h5::File&, h5::Group& g) { g.set_int_attr("eos_id", 5000); }, {"eos.h5", "eos_id 5000"});
}

// ---- a corpus made with BPE --------------------------------------------------------------------

TEST(Tokenizer, CorpusStoresTheBpeTokenizerAndDocumentsDecodeBack) {
  const Tokenizer& t = repo_tokenizer();
  TempDir dir;
  const std::string path = dir.file("c.h5");
  const std::vector<std::string> docs = {"first document\n", random_bytes(300, 9), "x", "int main() {}\n"};
  {
    CorpusWriter w(path, t);
    for (const std::string& d : docs) w.add_document(Split::train, d);
    w.finish("unit test");
  }
  const Corpus c(path);
  EXPECT_EQ(c.tokenizer(), t);
  EXPECT_EQ(c.vocab_size(), 1024);
  const std::vector<int64_t> offsets = c.doc_offsets(Split::train);
  ASSERT_EQ(offsets.size(), docs.size() + 1);
  for (size_t d = 0; d < docs.size(); ++d) {
    std::vector<int32_t> ids(static_cast<size_t>(offsets[d + 1] - offsets[d]));
    c.read_tokens(Split::train, offsets[d], static_cast<int64_t>(ids.size()), ids.data());
    EXPECT_EQ(ids.back(), t.eos_id);
    EXPECT_EQ(t.decode(ids.data(), static_cast<int64_t>(ids.size())), docs[d]);
  }
}

}  // namespace
}  // namespace alibi
