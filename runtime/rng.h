// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): a value depends only
// on (key, counter), never on call order. Parameters are initialised by
// (seed, parameter name, global element index), so a tensor-parallel shard computes
// exactly its slice of the same global tensor and every layout starts identical.
//
//   uint64_t key = rng_key(seed, "blocks.0.attn.qkv.weight");
//   float w = 0.02f * rng_normal(key, global_index);
#pragma once

#include <cstdint>
#include <string_view>

namespace alibi {

struct Philox4 {
  uint32_t v[4];
};

// Philox4x32-10 block: 4 x 32 random bits for a 128-bit counter and a 64-bit key.
inline Philox4 philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t{0xD2511F53u} * c0;
    const uint64_t p1 = uint64_t{0xCD9E8D57u} * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Key for a named stream: FNV-1a of the name, mixed with the seed.
inline uint64_t rng_key(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  uint64_t z = h ^ (seed + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;  // splitmix64 finaliser
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 53 random bits.
inline double rng_uniform(uint64_t key, uint64_t index) {
  const Philox4 r = philox4x32(index, 0, key);
  const uint64_t bits = (uint64_t{r.v[0]} << 32 | r.v[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

// Standard normal (Box-Muller on the counter's two 64-bit halves).
double rng_normal(uint64_t key, uint64_t index);

// Uniform integer in [0, n) without modulo bias worth measuring (n < 2^40).
inline uint64_t rng_below(uint64_t key, uint64_t index, uint64_t n) {
  return static_cast<uint64_t>(rng_uniform(key, index) * static_cast<double>(n)) % n;
}

}  // namespace alibi
