// libFuzzer: our schema checks over HDF5 files (seeds: a small corpus and a checkpoint;
// the fuzzer mutates their bytes). The corpus is opened as `alibi train` opens it and every
// split read whole; a checkpoint's options and state are read as --resume reads them.
// HDF5 itself is not instrumented: a crash inside libhdf5 is reported, not ours to fix.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "parallel/checkpoint.h"
#include "runtime/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  MPI_Init(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = alibi::fuzz::scratch_dir() + "/file.h5";
  alibi::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const alibi::Corpus corpus(path, MPI_COMM_NULL);
    std::vector<int32_t> tokens;
    for (alibi::Split s : {alibi::Split::train, alibi::Split::valid, alibi::Split::test}) {
      const int64_t n = std::min<int64_t>(corpus.size(s), 1 << 20);
      tokens.resize(static_cast<size_t>(n));
      if (n > 0) corpus.read_tokens(s, 0, n, tokens.data());
      corpus.doc_offsets(s);
    }
  } catch (const alibi::Error&) {
  }
  try {
    alibi::read_checkpoint_options(path);
    alibi::read_checkpoint_state(path);
  } catch (const alibi::Error&) {
  }
  return 0;
}
