// alibi preprocess: text files and directories -> one HDF5 corpus (data/FORMAT.md).
// Each regular file is one document of raw bytes; directories are walked recursively in
// sorted order, so the same inputs, fractions and seed always give the same file.
//
//   alibi preprocess --input /usr/share/doc/linux-doc-6.1/html/_sources --output linuxdoc.h5
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/corpus_writer.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "runtime/config.h"
#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

namespace {

struct PreprocessOptions {
  std::vector<std::string> inputs;
  std::string output;
  double valid_fraction = 0.01;
  double test_fraction = 0.01;
  uint64_t seed = 1234;
  std::string extensions;  // comma-separated endings; empty: every regular file
};

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

bool ends_with_any(const std::string& name, const std::vector<std::string>& endings) {
  if (endings.empty()) return true;
  for (const std::string& e : endings)
    if (name.size() >= e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  return false;
}

// The documents: files named on the command line in their order, then each directory's
// files (recursive, matching the extensions) in sorted path order. A file reached twice
// is taken once; `exclude` (the output and its temporary name) is never taken.
std::vector<std::string> collect_files(const PreprocessOptions& o, const std::set<std::string>& exclude) {
  const std::vector<std::string> endings = split_commas(o.extensions);
  std::vector<std::string> files;
  std::set<std::string> seen = exclude;
  auto take = [&](const fs::path& p) {
    std::error_code ec;
    const std::string canonical = fs::weakly_canonical(p, ec).string();
    if (seen.insert(ec ? p.string() : canonical).second) files.push_back(p.string());
  };
  for (const std::string& input : o.inputs) {
    std::error_code ec;
    const fs::file_status st = fs::status(input, ec);
    ALIBI_CHECK_AS(IoError, !ec || ec == std::errc::no_such_file_or_directory,
                   "--input " << input << ": " << ec.message() << "; check the path and its permissions");
    ALIBI_CHECK_AS(IoError, fs::exists(st), "--input " << input << " does not exist; check the path");
    if (fs::is_regular_file(st)) {
      take(input);
    } else if (fs::is_directory(st)) {
      std::vector<fs::path> found;
      fs::recursive_directory_iterator it(input, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec) && ends_with_any(it->path().filename().string(), endings))
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
  }
  return files;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ALIBI_CHECK_AS(IoError, in.good(), "cannot open " << path << " for reading; check its permissions");
  std::ostringstream contents;
  if (in.peek() != std::ifstream::traits_type::eof()) contents << in.rdbuf();
  ALIBI_CHECK_AS(IoError, !in.bad(), "cannot read " << path);
  return contents.str();
}

std::string source_description(const PreprocessOptions& o, size_t n_files) {
  std::ostringstream os;
  os << "alibi preprocess --input";
  for (const std::string& input : o.inputs) os << " " << input;
  if (!o.extensions.empty()) os << " --extensions " << o.extensions;
  os << "; " << n_files << " files, one document each; valid_fraction " << o.valid_fraction
     << ", test_fraction " << o.test_fraction << ", seed " << o.seed;
  return os.str();
}

double megabytes(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

}  // namespace

int cmd_preprocess(int argc, char** argv) {
  // ---- options ----
  PreprocessOptions o;
  po::options_description desc("preprocess");
  desc.add_options()
      ("input", po::value(&o.inputs)->multitoken()->required(),
       "text files and directories (walked recursively, sorted); each file is one document")
      ("output", po::value(&o.output)->required(), "the corpus file to write, e.g. corpus.h5")
      ("valid-fraction", po::value(&o.valid_fraction)->default_value(o.valid_fraction),
       "fraction of documents held out for validation")
      ("test-fraction", po::value(&o.test_fraction)->default_value(o.test_fraction),
       "fraction of documents held out for testing")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the document split")
      ("extensions", po::value(&o.extensions)->default_value(o.extensions),
       "comma-separated name endings taken from directories, e.g. .txt,.rst,.md (empty: every file)");
  po::variables_map vm;
  if (!parse_command_line("preprocess", argc, argv, desc, vm)) return 0;

  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ALIBI_CHECK_AS(ConfigError, world == 1,
                 "alibi preprocess runs as one process (started with " << world << "); run it without mpirun");
  ALIBI_CHECK_AS(ConfigError, !fs::is_directory(o.output),
                 "--output " << o.output << " is a directory; give a file name, e.g. " << o.output << "/corpus.h5");
  const auto start = std::chrono::steady_clock::now();

  // ---- the documents ----
  std::set<std::string> exclude;
  for (const std::string& p : {o.output, temporary_path(o.output)}) {
    std::error_code ec;
    exclude.insert(fs::weakly_canonical(p, ec).string());
  }
  std::vector<std::string> files = collect_files(o, exclude);
  uint64_t total_bytes = 0;
  size_t empty_files = 0;
  {
    std::vector<std::string> nonempty;
    for (const std::string& f : files) {
      std::error_code ec;
      const uintmax_t bytes = fs::file_size(f, ec);
      ALIBI_CHECK_AS(IoError, !ec, "cannot read the size of " << f << ": " << ec.message());
      if (bytes == 0) {
        ++empty_files;  // an empty document would be a lone EOS: leave it out
        continue;
      }
      total_bytes += bytes;
      nonempty.push_back(f);
    }
    files.swap(nonempty);
  }
  ALIBI_CHECK_AS(DataError, !files.empty(),
                 "no documents: "
                     << (empty_files ? "all " + std::to_string(empty_files) + " input files are empty"
                                     : std::string("the inputs hold no files"))
                     << (o.extensions.empty() ? std::string() : " with names ending in " + o.extensions)
                     << "; give --input text files or directories that hold some");
  const std::vector<Split> split =
      assign_splits(static_cast<int64_t>(files.size()), o.valid_fraction, o.test_fraction, o.seed);

  // ---- write ----
  CorpusWriter writer(o.output, Tokenizer::bytes());
  for (size_t d = 0; d < files.size(); ++d) writer.add_document(split[d], read_file(files[d]));
  writer.finish(source_description(o, files.size()));

  // ---- report ----
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("alibi preprocess: %zu documents (%zu empty files skipped), %.1f MB of text\n", files.size(),
              empty_files, megabytes(total_bytes));
  std::printf("  %-6s %10s %14s\n", "split", "documents", "tokens");
  for (Split s : kSplits)
    std::printf("  %-6s %10lld %14lld\n", split_name(s), static_cast<long long>(writer.stats(s).docs),
                static_cast<long long>(writer.stats(s).tokens));
  std::error_code ec;
  const uintmax_t out_bytes = fs::file_size(o.output, ec);
  std::printf("wrote %s (%.1f MB) in %.2f s\n", o.output.c_str(), ec ? 0.0 : megabytes(out_bytes), seconds);
  return 0;
}

}  // namespace alibi
