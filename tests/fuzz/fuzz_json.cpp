// libFuzzer: data/json.h's cursor, as a JSON Lines record and as GPT-2's encoder.json read it.
#include <cstdint>
#include <string>

#include "data/json.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {  // a JSON Lines record: take "text", skip the rest
    alibi::JsonCursor j(text);
    j.begin_object();
    std::string key, value;
    while (j.next_member(key)) {
      if (key == "text") {
        value = j.read_string();
      } else {
        j.peek_kind();
        j.skip_value();
      }
    }
    j.expect_end();
  } catch (const alibi::JsonError&) {
  }
  try {  // encoder.json: string -> integer
    alibi::JsonCursor j(text);
    j.begin_object();
    std::string key;
    while (j.next_member(key)) j.read_int();
    j.expect_end();
  } catch (const alibi::JsonError&) {
  }
  return 0;
}
