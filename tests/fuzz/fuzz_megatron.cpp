// libFuzzer: a Megatron-LM indexed dataset (PREFIX.idx, then PREFIX.bin after a "====="
// line), opened by MegatronDataset and read document by document.
#include <cstdint>
#include <string>
#include <vector>

#include "data/megatron.h"
#include "runtime/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = alibi::fuzz::split_parts(data, size, 2);
  const std::string prefix = alibi::fuzz::scratch_dir() + "/ds";
  alibi::fuzz::write_file(prefix + ".idx", parts[0]);
  alibi::fuzz::write_file(prefix + ".bin", parts[1]);
  try {
    alibi::MegatronDataset ds(prefix);
    std::vector<int32_t> doc;
    for (int64_t d = 0; d < ds.documents() && d < 1000; ++d) ds.read_document(d, doc);
  } catch (const alibi::Error&) {
  }
  return 0;
}
