// Generation's KV-cache decode against the blocked forward: the decode kernel against the
// blocked attention kernel (every position bias, local heads of a larger model so the
// slopes must come from the global head index, T5 distances past its max_distance), and
// the whole model decoding a token at a time (or a prompt, then tokens) against one full
// forward over the same sequence, for every position method at positions 1 .. 8x the
// training length; a windowed cache against a forward over the window; learned positions
// refusing to go past their table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/compare.h"
#include "tests/expect_error.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "layers/kv_cache.h"
#include "layers/model.h"

namespace alibi {
namespace {

template <class Real>
std::vector<Real> random_values(int64_t n, std::mt19937_64& gen, double scale = 1.0) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<Real> v(static_cast<size_t>(n));
  for (Real& x : v) x = static_cast<Real>(dist(gen));
  return v;
}

// ---- the kernel ------------------------------------------------------------------------------

// Rows of a fused qkv (1, T, NH, 3, HS) through the blocked kernel, and through the cache
// `chunk` rows at a time (kv_cache_append, then attention_decode); the outputs must agree.
template <class Real>
void expect_decode_matches_blocked(PositionBias bias, int T, int chunk, double tol) {
  const int NH = 4, HS = 8, head_offset = 4, n_heads_total = 8;  // a TP rank's second half of the heads
  std::mt19937_64 gen(11);
  std::vector<Real> qkv = random_values<Real>(int64_t{T} * NH * 3 * HS, gen);
  std::vector<Real> table = random_values<Real>(32 * NH, gen);
  std::vector<Real> blocked(static_cast<size_t>(T) * NH * HS), lse(static_cast<size_t>(NH) * T);
  AttentionParams<Real> p = fused_qkv_params<Real>(qkv.data(), blocked.data(), lse.data(), 1, T, NH, HS);
  p.head_offset = head_offset;
  p.n_heads_total = n_heads_total;
  p.bias = bias;
  p.t5_table = table.data();
  cpu::attention_forward(p);

  std::vector<Real> k_cache(static_cast<size_t>(NH) * T * HS), v_cache(k_cache.size());
  std::vector<Real> decoded(blocked.size(), Real(NAN));
  for (int t0 = 0; t0 < T; t0 += chunk) {
    DecodeParams<Real> d;
    d.Tq = std::min(chunk, T - t0);
    d.q = qkv.data() + int64_t{t0} * 3 * NH * HS;
    d.k = d.q + HS;
    d.v = d.q + 2 * HS;
    d.row_stride = int64_t{3} * NH * HS;
    d.head_stride = 3 * HS;
    d.k_cache = k_cache.data();
    d.v_cache = v_cache.data();
    d.capacity = T;
    d.cache_head_stride = int64_t{T} * HS;
    d.n_keys = t0 + d.Tq;
    d.out = decoded.data() + int64_t{t0} * NH * HS;
    d.NH = NH;
    d.HS = HS;
    d.head_offset = head_offset;
    d.n_heads_total = n_heads_total;
    d.bias = bias;
    d.t5_table = table.data();
    cpu::kv_cache_append(d);
    cpu::attention_decode(d);
  }
  test::expect_close_relative_to_max(std::string(position_bias_name(bias)) + " decode, chunks of " + std::to_string(chunk), decoded,
                     blocked, tol);
}

// The same scores, biases and weights in another order of sums: float rounding of O(1)
// outputs stays ~1e-6; double leaves ~1e-15.
constexpr double kFloatTol = 1e-5, kDoubleTol = 1e-12;

TEST(DecodeKernel, MatchesBlockedKernelForEveryBias) {
  // 200 positions: T5 distances past its max_distance (128) fall in the last bucket.
  for (PositionBias bias : {PositionBias::none, PositionBias::alibi, PositionBias::rotary, PositionBias::t5}) {
    for (int chunk : {1, 7}) {
      expect_decode_matches_blocked<float>(bias, 200, chunk, kFloatTol);
      expect_decode_matches_blocked<double>(bias, 200, chunk, kDoubleTol);
    }
  }
}

TEST(DecodeKernel, ChecksItsShapes) {
  DecodeParams<float> d;
  d.Tq = 1;
  d.NH = 2;
  d.HS = 4;
  d.n_keys = 5;
  d.capacity = 4;
  d.cache_head_stride = 16;
  test::expect_error<ShapeError>([&] { cpu::attention_decode(d); }, {"slots [0, 5)", "capacity"});
  d.capacity = 8;
  d.cache_head_stride = 32;
  d.row_stride = 24;
  d.head_stride = 12;
  d.n_heads_total = 2;
  d.head_offset = 1;
  test::expect_error<ShapeError>([&] { cpu::attention_decode(d); }, {"n_heads_total", "not NH_local"});
}

// ---- the model -------------------------------------------------------------------------------

ModelConfig small_model(const char* position, int layers) {
  ModelConfig cfg;
  cfg.vocab = 11;
  cfg.layers = layers;
  cfg.channels = 16;
  cfg.heads = 4;  // HS = 4: even, for rotary
  cfg.ffn = 20;
  cfg.seq_len = 8;
  cfg.position = parse_enum<PositionMethod>(position);
  cfg.max_positions = 64;  // learned: 8x the training length
  return cfg;
}

// Weights scaled up from GPT-2's init (and the T5 table, which starts at zero, made
// random), so attention is far from uniform and every position term moves the logits.
template <class Real>
void randomise(Model<Real>& model, uint64_t seed) {
  std::mt19937_64 gen(seed);
  for (const ParamRef& p : model.parameters()) {
    if (p.value->ndim() != 2) continue;
    const std::vector<Real> v = random_values<Real>(p.value->numel(), gen, 0.3);
    std::copy(v.begin(), v.end(), p.value->template data<Real>());
  }
}

std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = static_cast<int32_t>(gen() % vocab);
  return t;
}

template <class Real>
std::vector<Real> rows_of(const Tensor& t) {
  return std::vector<Real>(t.data<Real>(), t.data<Real>() + t.numel());
}

// One full forward over T tokens against (a) a token at a time from an empty cache and
// (b) a prompt of P tokens in one blocked forward, then a token at a time.
template <class Real>
void expect_decode_equals_forward(const char* position, double tol) {
  const int T = 64, P = 13;  // 8x the training length; a prompt that is not a tile multiple
  const ModelConfig cfg = small_model(position, 2);
  Model<Real> model(cfg, 42);
  randomise(model, 6);
  const std::vector<int32_t> tokens = random_tokens(T, cfg.vocab, 3);
  model.forward(tokens.data(), nullptr, 1, T);
  const std::vector<Real> full = rows_of<Real>(model.logits());

  std::vector<Real> one_by_one;
  KvCache cache = model.make_cache(T);
  for (int t = 0; t < T; ++t) {
    const std::vector<Real> row = rows_of<Real>(model.forward_cached(&tokens[t], 1, cache));
    one_by_one.insert(one_by_one.end(), row.begin(), row.end());
  }
  test::expect_close_relative_to_max(std::string(position) + ": a token at a time", one_by_one, full, tol);

  KvCache cache2 = model.make_cache(T);
  std::vector<Real> prompted = rows_of<Real>(model.forward_cached(tokens.data(), P, cache2, P));
  for (int t = P; t < T; ++t) {
    const std::vector<Real> row = rows_of<Real>(model.forward_cached(&tokens[t], 1, cache2));
    prompted.insert(prompted.end(), row.begin(), row.end());
  }
  test::expect_close_relative_to_max(std::string(position) + ": prompt of " + std::to_string(P) + ", then a token at a time",
                     prompted, full, tol);
}

class DecodeEqualsForward : public ::testing::TestWithParam<const char*> {};

// Logits of O(1-10): float's rounding over two layers stays ~1e-6 of the largest, double's
// ~1e-14; a missing or misplaced position term moves them by O(0.1).
TEST_P(DecodeEqualsForward, Float) { expect_decode_equals_forward<float>(GetParam(), 1e-5); }
TEST_P(DecodeEqualsForward, Double) { expect_decode_equals_forward<double>(GetParam(), 1e-10); }

INSTANTIATE_TEST_SUITE_P(Positions, DecodeEqualsForward,
                         ::testing::Values("alibi", "none", "rotary", "t5", "sinusoidal", "learned"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

// A window of W positions with a cache of few spare slots (so its contents move back to
// slot 0 every few tokens): with one layer, a key and value depend on their own token only,
// so the logits at position t equal a forward over the W tokens ending at t for the
// relative position methods.
TEST(DecodeWindow, EqualsForwardOverTheWindow) {
  const int W = 10, T = 40;
  for (const char* position : {"alibi", "none", "rotary", "t5"}) {
    const ModelConfig cfg = small_model(position, 1);
    Model<double> model(cfg, 42);
    randomise(model, 8);
    const std::vector<int32_t> tokens = random_tokens(T, cfg.vocab, 4);
    KvCache cache = model.make_cache(W + 2, W);
    for (int t = 0; t < T; ++t) {
      const std::vector<double> got = rows_of<double>(model.forward_cached(&tokens[t], 1, cache));
      const int first = std::max(0, t - W + 1), n = t - first + 1;
      model.forward(tokens.data() + first, nullptr, 1, n);
      const std::vector<double> all = rows_of<double>(model.logits());
      const std::vector<double> last(all.end() - cfg.vocab, all.end());
      // Rotary turns the same pairs by other angles here (positions shifted by `first`):
      // double rounding of those, ~1e-15, and nothing else.
      test::expect_close_relative_to_max(std::string(position) + " at position " + std::to_string(t), got, last, 1e-10);
    }
    EXPECT_LE(cache.length(), W);
    EXPECT_EQ(cache.next_position(), T);
  }
}

TEST(DecodeWindow, PromptLongerThanTheWindowGoesThroughTheDecodeKernel) {
  // A prompt of 25 into a window of 10: each of its queries sees its own last 10 positions.
  const int W = 10, T = 25;
  const ModelConfig cfg = small_model("alibi", 1);
  Model<double> model(cfg, 42);
  randomise(model, 9);
  const std::vector<int32_t> tokens = random_tokens(T, cfg.vocab, 5);
  KvCache cache = model.make_cache(T, W);
  const std::vector<double> got = rows_of<double>(model.forward_cached(tokens.data(), T, cache, 1));
  model.forward(tokens.data() + T - W, nullptr, 1, W);
  const std::vector<double> all = rows_of<double>(model.logits());
  test::expect_close_relative_to_max("last position", got, std::vector<double>(all.end() - cfg.vocab, all.end()), 1e-10);
}

TEST(DecodeLearned, StopsAtTheEndOfItsTable) {
  ModelConfig cfg = small_model("learned", 1);
  cfg.max_positions = 8;
  Model<float> model(cfg, 42);
  KvCache cache = model.make_cache(20);
  const std::vector<int32_t> tokens = random_tokens(9, cfg.vocab, 1);
  model.forward_cached(tokens.data(), 8, cache);
  test::expect_error<ConfigError>([&] { model.forward_cached(&tokens[8], 1, cache); },
                                  {"position 8", "learned position table's 8 rows"});
}

TEST(DecodeCache, RefusesMoreThanItsCapacity) {
  const ModelConfig cfg = small_model("alibi", 1);
  Model<float> model(cfg, 42);
  KvCache cache = model.make_cache(4);
  const std::vector<int32_t> tokens = random_tokens(5, cfg.vocab, 1);
  model.forward_cached(tokens.data(), 4, cache);
  test::expect_error<ConfigError>([&] { model.forward_cached(&tokens[4], 1, cache); }, {"holds 4 positions"});
  test::expect_error<DataError>([&] {
    KvCache fresh = model.make_cache(4);
    const int32_t bad = 11;
    model.forward_cached(&bad, 1, fresh);
  }, {"token id 11", "[0, 11)"});
}

}  // namespace
}  // namespace alibi
