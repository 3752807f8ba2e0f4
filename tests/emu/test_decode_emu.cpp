// The CUDA KV-cache decode (kernels/cuda/attention_decode.cu), run by the emulator, against
// the CPU kernels: every case of tests/decode_case.h (every position bias, a TP rank's
// heads, one and several new tokens, long contexts split over blocks and merged, a window,
// head sizes off the warp).
#include <gtest/gtest.h>

#include "tests/decode_case.h"
#include "tests/emu/emulated_kernels.h"

namespace alibi {
namespace {

TEST(CudaDecodeEmu, MatchesCpu) {
  for (const test::DecodeCase& c : test::decode_cases()) {
    test::expect_decode_matches_cpu(c, [](test::DecodeBuffers& b) {
      cuda_emu::kv_cache_append(b.params);
      cuda_emu::attention_decode(b.params);
    });
  }
}

}  // namespace
}  // namespace alibi
