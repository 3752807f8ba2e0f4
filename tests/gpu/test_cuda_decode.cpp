// The CUDA KV-cache decode (kernels/cuda/attention_decode.cu) on a GPU against the CPU
// kernels: every case of tests/decode_case.h (also run by the emulator in
// tests/emu/test_decode_emu.cpp), plus a 32k-key context, split over 128 blocks per head.
#include <string>

#include "tests/decode_case.h"
#include "tests/gpu/gpu_test.h"

namespace alibi {
namespace {

#ifdef ALIBI_WITH_CUDA

// The kernels on device copies of the buffers; the cache and the output come back.
void run_on_gpu(test::DecodeBuffers& b) {
  Tensor qkv = test::upload(b.qkv), k = test::upload(b.k_cache), v = test::upload(b.v_cache);
  Tensor table = test::upload(b.t5_table), out = test::upload(b.out);
  DecodeParams<float> d = b.params;
  d.q = qkv.data<float>() + (b.params.q - b.qkv.data());
  d.k = qkv.data<float>() + (b.params.k - b.qkv.data());
  d.v = qkv.data<float>() + (b.params.v - b.qkv.data());
  d.k_cache = k.data<float>();
  d.v_cache = v.data<float>();
  d.t5_table = table.data<float>();
  d.out = out.data<float>();
  cuda::kv_cache_append(d);
  cuda::attention_decode(d);
  b.k_cache = test::download(k);
  b.v_cache = test::download(v);
  b.out = test::download(out);
}

TEST(CudaDecode, MatchesCpu) {
  ALIBI_REQUIRE_GPU();
  for (const test::DecodeCase& c : test::decode_cases()) test::expect_decode_matches_cpu(c, run_on_gpu);
  test::expect_decode_matches_cpu({PositionBias::alibi, 1, 32767, 0, 128}, run_on_gpu);
}

#endif  // ALIBI_WITH_CUDA

}  // namespace
}  // namespace alibi
