// The text `alibi preprocess` reads: which files the --input arguments name, and the
// documents inside them, in a fixed order (so the same inputs always give the same corpus).
//   - a file named on the command line is taken as is; a directory is walked recursively
//     in byte order of the paths (keeping names that end in one of `extensions`, with or
//     without a trailing .gz); an argument with * ? or [ that names no file is a glob
//     pattern (its matches sorted, each taken like an argument)
//   - a name ending in .gz is decompressed while reading (zlib); a damaged or truncated
//     one is an error naming the file
//   - a name ending in .jsonl or .ndjson (before any .gz) is JSON Lines: each non-blank
//     line is an object whose string field `jsonl_field` ("text") is one document; any
//     other file is one document of raw bytes
//   - empty documents (an empty file, an empty "text") are skipped and counted
//
//   std::vector<InputFile> files = collect_input_files({"docs/", "extra/*.jsonl.gz"}, {}, {});
//   DocumentReader reader(files, "text");
//   for (std::string doc; reader.next(doc);) use(doc);   // reader.where(): "a.jsonl:12"
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace alibi {

struct InputFile {
  std::string path;
  bool gzip = false;   // decompressed while reading
  bool jsonl = false;  // one document per line
  uint64_t bytes = 0;  // size on disk (progress)
};

// The files of `inputs`, in order, each once; paths in `exclude` (canonical) are never
// taken. IoError for an input that does not exist, a pattern that matches nothing, or a
// directory that cannot be listed.
std::vector<InputFile> collect_input_files(const std::vector<std::string>& inputs,
                                           const std::vector<std::string>& extensions,
                                           const std::set<std::string>& exclude);

// Reads the documents of `files` one after another.
class DocumentReader {
 public:
  DocumentReader(std::vector<InputFile> files, std::string jsonl_field);
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;
  ~DocumentReader();

  // The next non-empty document into `text`; false after the last. IoError / DataError
  // naming the file (and line) for unreadable, damaged or malformed input.
  bool next(std::string& text);

  std::string where() const;                       // "path" or "path:line" of the last document
  int64_t empty_skipped() const { return empty_; }  // empty documents passed over
  uint64_t bytes_done() const;                      // on-disk bytes of the files finished or begun

 private:
  class Stream;  // a plain or gzip file
  bool open_next_file();
  bool next_line(std::string& line);

  std::vector<InputFile> files_;
  std::string field_;
  size_t file_ = 0;  // the file being read is files_[file_ - 1]
  std::unique_ptr<Stream> stream_;
  int64_t line_ = 0;
  int64_t empty_ = 0;
  uint64_t bytes_before_ = 0;  // on-disk bytes of the files before the current one
  std::string buffer_;         // JSON Lines: bytes read but not yet returned
  size_t buffer_at_ = 0;
  std::string line_text_;
};

}  // namespace alibi
