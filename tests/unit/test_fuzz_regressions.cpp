// Every input a fuzzer found a bug with (tests/fuzz/regressions/TARGET/, from
// tests/fuzz/run.sh) replayed through the reader it broke: each must now be refused with
// our typed error, promptly, and nothing else may escape.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "parallel/checkpoint.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "tests/expect_error.h"

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

// This process's peak resident memory so far, in bytes.
int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return int64_t{usage.ru_maxrss} * 1024;  // Linux reports KiB
}

// fuzz_hdf5 found two HDF5 inputs that asked for far more memory than the file holds:
//  - a corpus whose doc_offsets claimed 2^40 documents was read whole (a terabyte
//    allocation, std::bad_alloc) before its size was checked against the file;
//  - a checkpoint whose /config attribute 'seed' had a damaged character size (1.95 GB
//    per character) made HDF5 allocate and zero 7.8 GB inside H5Aread before the value
//    reached our schema check.
// Each must now be refused by every reader the harness runs, with a DataError and
// without allocating what it claims.
TEST(FuzzRegressions, HDF5FilesEndWithADataErrorWithoutAllocatingTheirClaims) {
  for (const std::string& path : regression_inputs("hdf5")) {
    const int64_t before = peak_rss_bytes();
    EXPECT_THROW(Corpus(path, MPI_COMM_NULL), DataError) << path;
    EXPECT_THROW(read_checkpoint_options(path), DataError) << path;
    // 256 MiB: the inputs are under 200 kB and their readers need a few MB; the claims
    // were 7.8 GB and 8 TB.
    EXPECT_LT(peak_rss_bytes() - before, int64_t{256} << 20) << path;
  }
}

// The checkpoint's error says which attribute is damaged, and what to do.
TEST(FuzzRegressions, DamagedConfigStringNamesTheAttribute) {
  const std::string path =
      std::string(ALIBI_SOURCE_DIR) + "/tests/fuzz/regressions/hdf5/hdf5-oom-e5db83b86a779c85ad72f4813449e95f9ab0bb20";
  test::expect_error<DataError>([&] { read_checkpoint_options(path); },
                                {path, "/config", "attribute 'seed'", "damaged string type", "use an earlier one"});
}

}  // namespace
}  // namespace alibi
