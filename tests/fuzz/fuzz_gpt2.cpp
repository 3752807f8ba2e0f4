// libFuzzer: GPT-2's vocabulary files (encoder.json, then vocab.bpe after a "=====" line),
// loaded by load_gpt2_tokenizer; a tokenizer that loads must then encode and decode.
#include <cstdint>
#include <string>

#include "data/gpt2_files.h"
#include "runtime/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = alibi::fuzz::split_parts(data, size, 2);
  const std::string& dir = alibi::fuzz::scratch_dir();
  alibi::fuzz::write_file(dir + "/encoder.json", parts[0]);
  alibi::fuzz::write_file(dir + "/vocab.bpe", parts[1]);
  try {
    const alibi::Tokenizer t = alibi::load_gpt2_tokenizer(dir);
    const std::vector<int32_t> ids = t.encode("Hello world, the quick brown fox. \xc3\xa9t\xc3\xa9 12345\n");
    t.decode(ids.data(), static_cast<int64_t>(ids.size()));
  } catch (const alibi::Error&) {
  }
  return 0;
}
