// Every input a fuzzer found a bug with (tests/fuzz/regressions/TARGET/, from
// tests/fuzz/run.sh) replayed through the reader it broke: each must now be refused with
// our typed error, promptly, and nothing else may escape.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "runtime/config.h"
#include "runtime/error.h"

namespace alibi {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> regression_inputs(const std::string& target) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(fs::path(ALIBI_SOURCE_DIR) / "tests/fuzz/regressions" / target))
    files.push_back(e.path().string());
  EXPECT_FALSE(files.empty()) << "no inputs for " << target;
  return files;
}

// fuzz_config: a value holding "%value%" made Boost's error message loop forever.
TEST(FuzzRegressions, ConfigFilesEndWithAConfigError) {
  for (const std::string& path : regression_inputs("config")) {
    ModelConfig cfg;
    po::options_description desc("model");
    add_model_options(desc, cfg);
    po::variables_map vm;
    const char* argv[] = {"train", "--config", path.c_str()};
    EXPECT_THROW(parse_command_line("train", 3, argv, desc, vm), ConfigError) << path;
  }
}

// fuzz_hdf5: a corpus whose doc_offsets claimed 2^40 documents was read whole (a terabyte
// allocation, std::bad_alloc) before its size was checked against the file.
TEST(FuzzRegressions, CorpusFilesEndWithADataError) {
  for (const std::string& path : regression_inputs("hdf5")) {
    EXPECT_THROW(Corpus(path, MPI_COMM_NULL), DataError) << path;
  }
}

}  // namespace
}  // namespace alibi
