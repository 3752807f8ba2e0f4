// One check of the CUDA KV-cache decode (kernels/cuda/attention_decode.cu) against the CPU
// kernels of kernels/attention_decode.h, shared by tests/emu/test_decode_emu.cpp (the
// kernels emulated on the host) and tests/gpu/test_cuda_decode.cpp (on a GPU). The CPU
// kernels are themselves checked against the blocked attention kernel in
// tests/unit/test_decode.cpp.
//
//   expect_decode_matches_cpu(c, [](DecodeBuffers& b) { ... run the kernels on b ... });
//
// Each case is a tensor-parallel rank's heads 2..4 of 6 (slopes from the global head index,
// interleaved for a head count that is no power of two) at stream positions from 1000 (past
// any training length). Checked: the cache slots the step appends, bit for bit (the same
// rotation from the same double angles), and the output, to 1e-5 of its largest value (O(1)
// outputs, the same fp32 terms summed in another order: ~1e-6).
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention_decode.h"
#include "tests/compare.h"

namespace alibi::test {

struct DecodeCase {
  PositionBias bias;
  int Tq;              // new tokens this step
  int64_t past;        // keys already in the cache
  int64_t window = 0;  // 0: every key
  int HS = 32;
  int64_t first_slot = 0;
};

inline std::string describe(const DecodeCase& c) {
  return std::string(position_bias_name(c.bias)) + " Tq=" + std::to_string(c.Tq) + " past=" + std::to_string(c.past) +
         " window=" + std::to_string(c.window) + " HS=" + std::to_string(c.HS) +
         " first_slot=" + std::to_string(c.first_slot);
}

// The cases, for every position bias: the first token (its own key only), a decode step,
// several new tokens at once; 701 keys, which the CUDA kernel splits over three blocks per
// head and merges (t5 distances past its max_distance in the last bucket); a window over
// slots from 37; head sizes off the warp (8, 40) and 128 (four channels per lane).
inline std::vector<DecodeCase> decode_cases() {
  std::vector<DecodeCase> cases;
  for (PositionBias bias : {PositionBias::none, PositionBias::alibi, PositionBias::rotary, PositionBias::t5})
    for (DecodeCase c : {DecodeCase{bias, 1, 0}, DecodeCase{bias, 1, 200}, DecodeCase{bias, 3, 60}}) cases.push_back(c);
  for (PositionBias bias : {PositionBias::alibi, PositionBias::rotary, PositionBias::t5}) cases.push_back({bias, 1, 700});
  cases.push_back({PositionBias::alibi, 2, 900, 300, 32, 37});
  cases.push_back({PositionBias::alibi, 1, 300, 0, 40});
  cases.push_back({PositionBias::rotary, 2, 520, 0, 128});
  cases.push_back({PositionBias::alibi, 1, 50, 0, 8});
  return cases;
}

// A step's inputs and outputs on the host, and params pointing into them.
struct DecodeBuffers {
  std::vector<float> qkv, k_cache, v_cache, t5_table, out;
  DecodeParams<float> params;
};

inline DecodeBuffers decode_buffers(const DecodeCase& c) {
  const int NH = 3;
  const int64_t capacity = c.first_slot + c.past + c.Tq + 5;
  std::mt19937_64 gen(17);
  std::normal_distribution<float> normal(0.f, 1.f);
  auto random = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = normal(gen);
    return v;
  };
  DecodeBuffers b;
  b.qkv = random(int64_t{c.Tq} * NH * 3 * c.HS);
  b.k_cache = random(NH * capacity * c.HS);
  b.v_cache = random(NH * capacity * c.HS);
  b.t5_table = random(32 * NH);
  b.out.assign(static_cast<size_t>(c.Tq) * NH * c.HS, NAN);  // never written: fails the comparison
  DecodeParams<float>& d = b.params;
  d.q = b.qkv.data();
  d.k = d.q + c.HS;
  d.v = d.q + 2 * c.HS;
  d.row_stride = int64_t{3} * NH * c.HS;
  d.head_stride = 3 * c.HS;
  d.k_cache = b.k_cache.data();
  d.v_cache = b.v_cache.data();
  d.cache_head_stride = capacity * c.HS;
  d.capacity = capacity;
  d.first_slot = c.first_slot;
  d.n_keys = c.past + c.Tq;
  d.first_position = 1000;
  d.window = c.window;
  d.out = b.out.data();
  d.Tq = c.Tq;
  d.NH = NH;
  d.HS = c.HS;
  d.head_offset = 2;
  d.n_heads_total = 6;
  d.bias = c.bias;
  d.t5_table = b.t5_table.data();
  return b;
}

// run appends the step to the cache and decodes it (kv_cache_append, attention_decode),
// leaving the results in the buffers; the CPU kernels on a copy are the reference.
inline void expect_decode_matches_cpu(const DecodeCase& c, const std::function<void(DecodeBuffers&)>& run) {
  DecodeBuffers ref = decode_buffers(c), got = decode_buffers(c);
  cpu::kv_cache_append(ref.params);
  cpu::attention_decode(ref.params);
  run(got);
  const std::string what = describe(c);
  expect_close_per_element(what + ": cached keys", got.k_cache, ref.k_cache, 0.0);
  expect_close_per_element(what + ": cached values", got.v_cache, ref.v_cache, 0.0);
  expect_close_relative_to_max(what + ": output", got.out, ref.out, 1e-5);
}

}  // namespace alibi::test
