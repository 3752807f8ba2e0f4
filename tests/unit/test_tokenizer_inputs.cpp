// What preprocessing reads: the JSON reader, the input files (paths, directories, globs)
// and the documents in them (plain, .gz, JSON Lines), and the errors bad input gives.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/json.h"
#include "data/text_inputs.h"
#include "runtime/error.h"
#include "tests/expect_error.h"
#include "tests/unit/temp_dir.h"

namespace alibi {
namespace {

using test::expect_error;
using test::read_file;
using test::TempDir;

namespace fs = std::filesystem;

// Writes `bytes` gzip-compressed to the file `name` in `dir`; returns its path.
std::string write_gz(const TempDir& dir, const std::string& name, const std::string& bytes) {
  gzFile f = gzopen(dir.file(name).c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return dir.file(name);
}

std::vector<std::string> read_all(const std::vector<InputFile>& files, int64_t* empty = nullptr) {
  DocumentReader reader(files, "text");
  std::vector<std::string> docs;
  for (std::string d; reader.next(d);) docs.push_back(d);
  if (empty) *empty = reader.empty_skipped();
  return docs;
}

std::string text_field(const std::string& line) {
  JsonCursor j(line);
  j.begin_object();
  std::string key, text;
  while (j.next_member(key)) {
    if (key == "text") {
      text = j.read_string();
    } else {
      j.skip_value();
    }
  }
  j.expect_end();
  return text;
}

// ---- JSON ----------------------------------------------------------------------------------

TEST(Json, ReadsStringsWithEveryEscapeAndSkipsOtherValues) {
  EXPECT_EQ(text_field(R"({"text": "a\"b\\c\/d\n\t\r\b\f"})"), "a\"b\\c/d\n\t\r\b\f");
  EXPECT_EQ(text_field(R"({"text": "caf\u00e9 \u20AC"})"), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(text_field(R"({"text": "\ud83d\ude00"})"), "\xF0\x9F\x98\x80");  // a surrogate pair
  EXPECT_EQ(text_field(R"({"text": "\ud800x"})"), "\xEF\xBF\xBDx");          // a lone one: U+FFFD
  EXPECT_EQ(text_field("{\"text\": \"raw \xE6\x97\xA5 UTF-8\"}"), "raw \xE6\x97\xA5 UTF-8");
  EXPECT_EQ(text_field(R"( {"id": -1.5e3, "meta": {"a": [1, {"b": null}, [], "x"], "t": true},
                          "text": "kept", "after": false} )"),
            "kept");
  JsonCursor ints(R"({"x": 42, "y": -7})");
  ints.begin_object();
  std::string key;
  ASSERT_TRUE(ints.next_member(key));
  EXPECT_EQ(ints.read_int(), 42);
  ASSERT_TRUE(ints.next_member(key));
  EXPECT_EQ(key, "y");
  EXPECT_EQ(ints.read_int(), -7);
  EXPECT_FALSE(ints.next_member(key));
}

TEST(Json, MalformedInputSaysWhatAndWhere) {
  auto error_of = [](const std::string& line) -> std::string {
    try {
      text_field(line);
    } catch (const JsonError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of("[1, 2]"), "expected an object, found an array at byte 1");
  EXPECT_EQ(error_of(R"({"text": "x"} junk)"), "unexpected text after the JSON value at byte 15");
  EXPECT_EQ(error_of(R"({"text": "x)"), "unterminated string at byte 12");
  EXPECT_EQ(error_of("{\"text\": \"a\tb\"}"), "raw control character in a string (JSON needs it escaped) at byte 12");
  EXPECT_EQ(error_of(R"({"text": "\q"})"), "unknown escape \\q at byte 12");
  EXPECT_EQ(error_of(R"({"a" 1})"), "expected ':', found '1' at byte 6");
  EXPECT_EQ(error_of(R"({"a": tru})"), "expected a value at byte 7");
  EXPECT_EQ(error_of(R"({"a": 1 "b": 2})"), "expected ',', found '\"' at byte 9");
  EXPECT_EQ(error_of("{"), "expected a member name in quotes at byte 2");
  EXPECT_EQ(error_of(std::string(1000, '[')).substr(0, 14), "expected an ob");
  const std::string deep = "{\"a\": " + std::string(600, '[') + std::string(600, ']') + "}";
  EXPECT_EQ(error_of(deep).substr(0, 26), "values nested too deeply a");
}

// ---- input files ------------------------------------------------------------------------------

TEST(TextInputs, DirectoriesGlobsAndFilesInAFixedOrderEachOnce) {
  TempDir dir;
  dir.write("in/b.txt", "b");
  dir.write("in/a.txt", "a");
  dir.write("in/sub/c.md", "c");
  write_gz(dir, "in/sub/d.txt.gz", "d");
  dir.write("in/e.bin", "e");
  dir.write("other/x.jsonl", "{\"text\": \"x\"}\n");
  dir.write("other/y.ndjson.gz", "");

  std::vector<InputFile> all = collect_input_files({dir.file("in")}, {}, {});
  std::vector<std::string> names;
  for (const InputFile& f : all) names.push_back(fs::path(f.path).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "b.txt", "e.bin", "c.md", "d.txt.gz"}));

  // --extensions matches with or without .gz; a file named twice (directly and by a glob) once.
  std::vector<InputFile> some =
      collect_input_files({dir.file("in/b.txt"), dir.file("in"), dir.file("other/*")}, {".txt"}, {});
  names.clear();
  for (const InputFile& f : some) names.push_back(fs::path(f.path).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"b.txt", "a.txt", "d.txt.gz", "x.jsonl", "y.ndjson.gz"}));
  EXPECT_TRUE(some[2].gzip && !some[2].jsonl);
  EXPECT_TRUE(!some[3].gzip && some[3].jsonl);
  EXPECT_TRUE(some[4].gzip && some[4].jsonl);

  // The output is never an input.
  std::vector<InputFile> excluded = collect_input_files({dir.file("in")}, {}, {fs::canonical(dir.file("in/a.txt")).string()});
  EXPECT_EQ(excluded.size(), 4u);

  expect_error<IoError>([&] { collect_input_files({dir.file("nope")}, {}, {}); }, {"nope", "does not exist"});
  expect_error<IoError>([&] { collect_input_files({dir.file("in/*.xyz")}, {}, {}); }, {"*.xyz", "matches no file"});
}

TEST(TextInputs, DocumentsOfPlainGzipAndJsonLinesFiles) {
  TempDir dir;
  const std::string big(300000, 'z');  // larger than one read
  std::vector<InputFile> files = collect_input_files(
      {dir.write("a.txt", "plain \xff bytes"), dir.write("empty.txt", ""), write_gz(dir, "b.txt.gz", "zipped\n" + big),
       dir.write("c.jsonl", "{\"text\": \"one\"}\n\n  \n{\"id\": 2, \"text\": \"two\\nlines\"}\n{\"text\": \"\"}\n"
                            "{\"text\": \"no newline at the end\"}"),
       write_gz(dir, "d.jsonl.gz", "{\"text\": \"gz line\"}\r\n")},
      {}, {});
  int64_t empty = 0;
  const std::vector<std::string> docs = read_all(files, &empty);
  EXPECT_EQ(docs, (std::vector<std::string>{"plain \xff bytes", "zipped\n" + big, "one", "two\nlines",
                                            "no newline at the end", "gz line"}));
  EXPECT_EQ(empty, 2);  // empty.txt and the empty "text"
}

TEST(TextInputs, BadDocumentsNameTheFileAndLine) {
  TempDir dir;
  auto error_for = [&](const std::string& name, const std::string& bytes, std::initializer_list<std::string> parts) {
    const std::string path = dir.write(name, bytes);
    expect_error<DataError>([&] { read_all(collect_input_files({path}, {}, {})); }, parts);
  };
  error_for("notjson.jsonl", "{\"text\": \"fine\"}\nnot json\n", {"notjson.jsonl:2", "not a JSON object"});
  error_for("nofield.jsonl", "{\"text\": \"a\"}\n\n{\"body\": \"b\"}\n",
            {"nofield.jsonl:3", "no \"text\" field", "--jsonl-field"});
  error_for("number.jsonl", "{\"text\": 5}\n", {"number.jsonl:1", "\"text\" field is a number"});
  error_for("fake.txt.gz", "plain text", {"fake.txt.gz", "not gzip"});

  // A .gz cut in half: the reader notices the missing end.
  const std::string whole = write_gz(dir, "whole.txt.gz", std::string(100000, 'q') + "tail");
  const std::string bytes = read_file(whole);
  error_for("cut.txt.gz", bytes.substr(0, bytes.size() / 2), {"cut.txt.gz", "truncated"});
  // A wrong CRC in the trailer: every byte decompresses, the check at the end fails.
  // (Flipping bits inside the deflate data is not sure to be noticed: some are unused.)
  std::string damaged = bytes;
  damaged[damaged.size() - 8] ^= 0x55;
  error_for("damaged.txt.gz", damaged, {"damaged.txt.gz", "damaged gzip data", "incorrect data check"});
}

}  // namespace
}  // namespace alibi
