// Input files (paths, directories, globs) and the documents in them (text, .gz, JSONL).
#include "data/text_inputs.h"

#include <glob.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "data/json.h"
#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

namespace {

bool ends_with(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

InputFile describe_file(const fs::path& p) {
  InputFile f;
  f.path = p.string();
  std::string name = p.filename().string();
  if (ends_with(name, ".gz")) f.gzip = true, name.resize(name.size() - 3);
  f.jsonl = ends_with(name, ".jsonl") || ends_with(name, ".ndjson");
  std::error_code ec;
  f.bytes = fs::file_size(p, ec);
  if (ec) f.bytes = 0;
  return f;
}

bool matches_extensions(const std::string& name, const std::vector<std::string>& endings) {
  if (endings.empty()) return true;
  const std::string plain = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  for (const std::string& e : endings)
    if (ends_with(name, e) || ends_with(plain, e)) return true;
  return false;
}

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::vector<InputFile> collect_input_files(const std::vector<std::string>& inputs,
                                           const std::vector<std::string>& extensions,
                                           const std::set<std::string>& exclude) {
  std::vector<InputFile> files;
  std::set<std::string> seen = exclude;
  auto take = [&](const fs::path& p) {
    std::error_code ec;
    const std::string canonical = fs::weakly_canonical(p, ec).string();
    if (seen.insert(ec ? p.string() : canonical).second) files.push_back(describe_file(p));
  };
  // One argument, or one match of a pattern: a file, or a directory to walk.
  auto take_path = [&](const std::string& input, const std::string& named_as) {
    std::error_code ec;
    const fs::file_status st = fs::status(input, ec);
    ALIBI_CHECK_AS(IoError, !ec || ec == std::errc::no_such_file_or_directory,
                   "--input " << input << ": " << ec.message() << "; check the path and its permissions");
    ALIBI_CHECK_AS(IoError, fs::exists(st), "--input " << named_as << " does not exist; check the path");
    if (fs::is_regular_file(st)) {
      take(input);
    } else if (fs::is_directory(st)) {
      std::vector<fs::path> found;
      fs::recursive_directory_iterator it(input, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec) && matches_extensions(it->path().filename().string(), extensions))
          found.push_back(it->path());
      }
      ALIBI_CHECK_AS(IoError, !ec, "--input " << input << ": cannot list the directory: " << ec.message());
      std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
        return a.string() < b.string();  // byte order: the same on every machine
      });
      for (const fs::path& p : found) take(p);
    } else {
      throw IoError("--input " + input + " is neither a regular file nor a directory");
    }
  };

  for (const std::string& input : inputs) {
    std::error_code ec;
    if (is_pattern(input) && !fs::exists(input, ec)) {
      glob_t g{};
      const int rc = ::glob(input.c_str(), 0, nullptr, &g);
      std::vector<std::string> matches;
      for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      globfree(&g);
      ALIBI_CHECK_AS(IoError, rc != GLOB_NOMATCH && !matches.empty(),
                     "--input '" << input << "' matches no file; check the pattern (quote it so the shell "
                                            "leaves it to alibi, or let the shell expand it)");
      ALIBI_CHECK_AS(IoError, rc == 0, "--input '" << input << "': cannot expand the pattern (read error)");
      for (const std::string& m : matches) take_path(m, m);
    } else {
      take_path(input, input);
    }
  }
  return files;
}

// ---- one file's bytes ------------------------------------------------------------------------

class DocumentReader::Stream {
 public:
  explicit Stream(const InputFile& f) : path_(f.path) {
    file_ = std::fopen(f.path.c_str(), "rb");
    if (!file_) {
      const int err = errno;
      throw IoError("cannot open " + f.path + ": " + std::strerror(err) + "; check the path and its permissions");
    }
    if (!f.gzip) return;
    // zlib reads a file without the gzip magic as plain bytes; a .gz name promises gzip.
    unsigned char magic[2] = {0, 0};
    const size_t n = std::fread(magic, 1, 2, file_);
    std::fclose(file_);
    file_ = nullptr;
    ALIBI_CHECK_AS(DataError, n == 2 && magic[0] == 0x1f && magic[1] == 0x8b,
                   f.path << ": not gzip data (the name ends in .gz); decompress or rename it");
    gz_ = gzopen(f.path.c_str(), "rb");
    ALIBI_CHECK_AS(IoError, gz_ != nullptr, "cannot open " << f.path << " for decompression");
    gzbuffer(gz_, 1 << 17);
  }
  ~Stream() {
    if (gz_) gzclose(gz_);
    if (file_) std::fclose(file_);
  }

  // Up to n bytes into buf; 0 at the end of the (decompressed) data.
  size_t read(char* buf, size_t n) {
    if (!gz_) {
      const size_t got = std::fread(buf, 1, n, file_);
      ALIBI_CHECK_AS(IoError, got == n || !std::ferror(file_), "cannot read " << path_ << ": " << std::strerror(errno));
      return got;
    }
    const int got = gzread(gz_, buf, static_cast<unsigned>(std::min<size_t>(n, 1u << 30)));
    int err = Z_OK;
    const char* message = gzerror(gz_, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      const bool truncated = err == Z_BUF_ERROR;
      throw DataError(path_ + ": " + (truncated ? std::string("the gzip data is truncated") :
                                                  "damaged gzip data (" + std::string(message) + ")") +
                      "; fetch or compress the file again");
    }
    return static_cast<size_t>(got);
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
};

// ---- documents ------------------------------------------------------------------------------------

DocumentReader::DocumentReader(std::vector<InputFile> files, std::string jsonl_field)
    : files_(std::move(files)), field_(std::move(jsonl_field)) {}

DocumentReader::~DocumentReader() = default;

std::string DocumentReader::where() const {
  if (file_ == 0) return "(no file yet)";
  const InputFile& f = files_[file_ - 1];
  return f.jsonl ? f.path + ":" + std::to_string(line_) : f.path;
}

uint64_t DocumentReader::bytes_done() const {
  return bytes_before_ + (file_ > 0 ? files_[file_ - 1].bytes : 0);
}

bool DocumentReader::open_next_file() {
  if (file_ > 0) bytes_before_ += files_[file_ - 1].bytes;
  stream_.reset();
  if (file_ >= files_.size()) return false;
  stream_ = std::make_unique<Stream>(files_[file_++]);
  line_ = 0;
  buffer_.clear();
  buffer_at_ = 0;
  return true;
}

bool DocumentReader::next_line(std::string& line) {
  constexpr size_t kRead = size_t{1} << 20;
  while (true) {
    const size_t nl = buffer_.find('\n', buffer_at_);
    if (nl != std::string::npos) {
      line.assign(buffer_, buffer_at_, nl - buffer_at_);
      buffer_at_ = nl + 1;
      return true;
    }
    buffer_.erase(0, buffer_at_);
    buffer_at_ = 0;
    const size_t have = buffer_.size();
    buffer_.resize(have + kRead);
    const size_t got = stream_->read(buffer_.data() + have, kRead);
    buffer_.resize(have + got);
    if (got == 0) {
      if (buffer_.empty()) return false;
      line.swap(buffer_);  // the last line has no newline
      buffer_.clear();
      return true;
    }
  }
}

bool DocumentReader::next(std::string& text) {
  while (true) {
    if (!stream_ && !open_next_file()) return false;
    const InputFile& f = files_[file_ - 1];
    if (!f.jsonl) {
      // Read in pieces sized to the file (plus one byte, to see the end at once), so a
      // small document costs no large buffer; a .gz grows the buffer as it goes.
      text.clear();
      size_t piece = f.gzip ? std::max<size_t>(2 * f.bytes, 1 << 16) : f.bytes + 1;
      while (true) {
        const size_t have = text.size();
        text.resize(have + piece);
        const size_t got = stream_->read(text.data() + have, piece);
        text.resize(have + got);
        if (got == 0) break;
        piece = std::max<size_t>(have + got, 1 << 16);  // grew past the size on disk: double
      }
      stream_.reset();  // the next call opens the next file
      if (text.empty()) {
        ++empty_;
        continue;
      }
      return true;
    }

    if (!next_line(line_text_)) {
      stream_.reset();
      continue;
    }
    ++line_;
    if (line_text_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    bool found = false;
    try {
      JsonCursor j(line_text_);
      j.begin_object();
      std::string key;
      while (j.next_member(key)) {
        if (key == field_ && !found) {
          const std::string kind = j.peek_kind();
          ALIBI_CHECK_AS(DataError, kind == "a string",
                         where() << ": the \"" << field_ << "\" field is " << kind << ", not a string");
          text = j.read_string();
          found = true;
        } else {
          j.skip_value();
        }
      }
      j.expect_end();
    } catch (const JsonError& e) {
      throw DataError(where() + ": not a JSON object: " + e.what() +
                      "; each line of a JSON Lines file must be one object");
    }
    ALIBI_CHECK_AS(DataError, found,
                   where() << ": no \"" << field_ << "\" field; name the text's field with --jsonl-field");
    if (text.empty()) {
      ++empty_;
      continue;
    }
    return true;
  }
}

}  // namespace alibi
