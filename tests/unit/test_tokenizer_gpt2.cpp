// GPT-2's vocabulary files: bytes_to_unicode, loading a miniature encoder.json + vocab.bpe
// written here in GPT-2's own layout, the ids it gives, and what malformed files say.
// (The real 50257-token files are checked against the npm oracle in
// tests/e2e/preprocess_gpt2.sh.)
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "data/gpt2_files.h"
#include "data/tokenizer.h"
#include "data/unicode.h"
#include "runtime/error.h"
#include "tests/expect_error.h"
#include "tests/unit/temp_dir.h"

namespace alibi {
namespace {

using test::expect_error;
using test::read_file;
using test::TempDir;

// GPT-2's byte order for the first 256 ids: the printable bytes ascending, then the rest.
std::vector<int> gpt2_byte_order() {
  const std::array<char32_t, 256> u = gpt2_byte_to_unicode();
  std::vector<int> printable, rest;
  for (int b = 0; b < 256; ++b) (u[b] == static_cast<char32_t>(b) ? printable : rest).push_back(b);
  printable.insert(printable.end(), rest.begin(), rest.end());
  return printable;
}

std::string spelled(const std::string& bytes) {
  const std::array<char32_t, 256> u = gpt2_byte_to_unicode();
  std::string s;
  for (unsigned char c : bytes) append_utf8(u[c], s);
  return s;
}

// A miniature GPT-2 vocabulary: the 256 bytes in GPT-2's order, merges "Ġ t", "h e",
// "Ġt he" (ids 256..258), then <|endoftext|> = 259. Keys are written as JSON does,
// some through \u escapes (json.dumps writes every non-ASCII one that way).
void write_mini_gpt2(const TempDir& dir, const std::string& extra_merge_line = "") {
  std::string json = "{";
  int id = 0;
  for (int b : gpt2_byte_order()) {
    const char32_t cp = gpt2_byte_to_unicode()[b];
    std::string key;
    if (cp == '"' || cp == '\\') {
      key = std::string("\\") + static_cast<char>(cp);
    } else if (cp >= 0x80) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      key = buf;
    } else {
      key = std::string(1, static_cast<char>(cp));
    }
    json += "\"" + key + "\": " + std::to_string(id++) + ", ";
  }
  json += "\"" + spelled(" t") + "\": 256, \"he\": 257, \"" + spelled(" the") + "\": 258, \"<|endoftext|>\": 259}";
  dir.write("encoder.json", json);
  dir.write("vocab.bpe", "#version: 0.2\n" + spelled(" ") + " t\nh e\n" + spelled(" t") + " he\n" + extra_merge_line);
}

TEST(Gpt2Files, BytesToUnicodeIsGpt2s) {
  const std::array<char32_t, 256> u = gpt2_byte_to_unicode();
  EXPECT_EQ(u['!'], U'!');
  EXPECT_EQ(u['~'], U'~');
  EXPECT_EQ(u[0xE9], char32_t{0xE9});    // printable Latin-1 stands for itself
  EXPECT_EQ(u[0], char32_t{0x100});       // the first unprintable byte
  EXPECT_EQ(u[' '], char32_t{0x120});     // "Ġ"
  EXPECT_EQ(u['\n'], char32_t{0x10A});    // "Ċ"
  EXPECT_EQ(u[0xAD], char32_t{0x143});    // the soft hyphen is the last of the 68
  // The order gives GPT-2's well-known ids: "!" = 0, "Ġ" = 220.
  const std::vector<int> order = gpt2_byte_order();
  EXPECT_EQ(order[0], '!');
  EXPECT_EQ(order[220], ' ');
}

TEST(Gpt2Files, LoadsTheVocabularyAndEncodesWithItsIds) {
  TempDir dir;
  write_mini_gpt2(dir);
  const Tokenizer t = load_gpt2_tokenizer(dir.path());
  EXPECT_EQ(t.kind, TokenizerKind::gpt2);
  EXPECT_EQ(t.vocab_size, 260);
  EXPECT_EQ(t.eos_id, 259);
  EXPECT_EQ(t.vocab[220], " ");
  EXPECT_EQ(t.vocab[0], "!");
  EXPECT_EQ(t.vocab[258], " the");
  ASSERT_EQ(t.merges.size(), 3u);
  EXPECT_EQ(t.merges[0], (Merge{220, 't' - '!'}));
  // " the the" -> " the", " the"; "the" -> t, he ('t' is id 't' - '!' = 83).
  EXPECT_EQ(t.encode(" the the"), (std::vector<int32_t>{258, 258}));
  EXPECT_EQ(t.encode("the"), (std::vector<int32_t>{83, 257}));
  const std::string text = "the\xff\n the";
  const std::vector<int32_t> ids = t.encode(text);
  EXPECT_EQ(t.decode(ids.data(), static_cast<int64_t>(ids.size())), text);
}

TEST(Gpt2Files, MalformedFilesAreOneLineErrorsNamingTheFile) {
  TempDir missing;
  expect_error<IoError>([&] { load_gpt2_tokenizer(missing.file("nope")); }, {"nope", "encoder.json"});
  expect_error<IoError>([&] { load_gpt2_tokenizer(missing.path()); }, {"encoder.json", "does not exist"});

  TempDir bad_json;
  write_mini_gpt2(bad_json);
  bad_json.write("encoder.json", "{\"a\": 1, \"b\": }");
  expect_error<DataError>([&] { load_gpt2_tokenizer(bad_json.path()); }, {"encoder.json", "not valid JSON", "byte 15"});

  TempDir bad_char;
  write_mini_gpt2(bad_char);
  bad_char.write("encoder.json", "{\"\xE4\xB8\x80\": 0}");  // U+4E00 is not a byte character
  expect_error<DataError>([&] { load_gpt2_tokenizer(bad_char.path()); }, {"encoder.json", "U+4E00"});

  TempDir three;
  write_mini_gpt2(three, "a b c\n");
  expect_error<DataError>([&] { load_gpt2_tokenizer(three.path()); }, {"vocab.bpe:5", "two tokens"});

  TempDir unknown;
  write_mini_gpt2(unknown, "he llo\n");  // "llo" is not in encoder.json
  expect_error<DataError>([&] { load_gpt2_tokenizer(unknown.path()); }, {"vocab.bpe:5", "llo", "not a token"});

  TempDir unjoined;
  write_mini_gpt2(unjoined, "a b\n");  // both tokens exist, "ab" does not
  expect_error<DataError>([&] { load_gpt2_tokenizer(unjoined.path()); }, {"merge 3", "'ab'", "not in the vocabulary"});

  TempDir no_eos;
  write_mini_gpt2(no_eos);
  {
    std::string json = read_file(no_eos.file("encoder.json"));
    json.replace(json.find("\"<|endoftext|>\": 259"), 20, "\"" + spelled("he ") + "\": 259");
    no_eos.write("encoder.json", json);
  }
  expect_error<DataError>([&] { load_gpt2_tokenizer(no_eos.path()); }, {"encoder.json", "<|endoftext|>"});
}

}  // namespace
}  // namespace alibi
