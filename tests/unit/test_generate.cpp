// Sampling against hand-computed distributions (temperature, top-k, top-p and their
// combination; greedy = argmax), the draws of a fixed seed against the cumulative
// distribution worked out here, and the generation loop (determinism, EOS, option errors).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "runtime/rng.h"
#include "tests/expect_error.h"
#include "train/generate.h"

namespace alibi {
namespace {

// Five ids whose softmax at temperature 1 is p = (0.3, 0.1, 0.4, 0.05, 0.15): the ranking
// 2, 0, 4, 1, 3 is not the id order.
const std::vector<double> kProbs = {0.3, 0.1, 0.4, 0.05, 0.15};
std::vector<float> logits_of(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

SamplingOptions options(double temperature, int top_k, double top_p, uint64_t seed = 7) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}

// The logits are float logs of the probabilities: ~1e-7 relative on each.
void expect_distribution(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << what << ", id " << i;
}

TEST(Sampling, DistributionsByHand) {
  const std::vector<float> l = logits_of(kProbs);
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 0, 1)), kProbs, "plain");
  // top-k 3 keeps ids 2, 0, 4 (0.85 of the mass).
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 3, 1)),
                      {0.3 / 0.85, 0, 0.4 / 0.85, 0, 0.15 / 0.85}, "top-k 3");
  // top-p 0.6: 0.4 < 0.6, 0.4 + 0.3 = 0.7 >= 0.6 keeps ids 2 and 0.
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 0, 0.6)), {0.3 / 0.7, 0, 0.4 / 0.7, 0, 0},
                      "top-p 0.6");
  // top-k 3 then top-p 0.8 of the kept mass: 0.4/0.85 = 0.47 < 0.8, 0.7/0.85 = 0.82 >= 0.8.
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 3, 0.8)), {3.0 / 7, 0, 4.0 / 7, 0, 0},
                      "top-k 3, top-p 0.8");
  // temperature 2: p^(1/2), renormalised.
  double z = 0;
  for (double p : kProbs) z += std::sqrt(p);
  std::vector<double> warm;
  for (double p : kProbs) warm.push_back(std::sqrt(p) / z);
  expect_distribution(sampling_distribution(l.data(), 5, options(2, 0, 1)), warm, "temperature 2");
  // temperature 0: all on the argmax.
  expect_distribution(sampling_distribution(l.data(), 5, options(0, 0, 1)), {0, 0, 1, 0, 0}, "greedy");
  // top-p 1e-9 and top-k 1 keep the most likely id alone.
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 0, 1e-9)), {0, 0, 1, 0, 0}, "top-p tiny");
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 1, 1)), {0, 0, 1, 0, 0}, "top-k 1");
}

TEST(Sampling, GreedyIsTheArgmaxAndTheLowestIdOnTies) {
  const std::vector<float> l = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
  for (uint64_t step = 0; step < 5; ++step) EXPECT_EQ(sample_token(l.data(), 5, options(0, 0, 1), step), 1);
  // Ties in a top-k ranking also go to the lower id: k = 1 keeps id 1, not 3.
  expect_distribution(sampling_distribution(l.data(), 5, options(1, 1, 1)), {0, 1, 0, 0, 0}, "top-k 1 on a tie");
}

// Draw s of seed 7 is u_s = rng_uniform(rng_key(7, "generate"), s); the token is the first id
// whose cumulative probability (in id order, over the support) passes u_s.
TEST(Sampling, DrawsFollowTheCumulativeDistributionOfAFixedSeed) {
  const std::vector<float> l = logits_of(kProbs);
  const uint64_t key = rng_key(7, "generate");
  // top-k 3: support ids 0, 2, 4 with cumulative 0.3/0.85, 0.7/0.85, 1.
  const std::vector<std::pair<int, double>> cumulative = {{0, 0.3 / 0.85}, {2, 0.7 / 0.85}, {4, 1.0}};
  std::map<int, int> counts;
  const int n = 20000;
  for (uint64_t s = 0; s < n; ++s) {
    const double u = rng_uniform(key, s);
    int want = 4;
    for (const auto& [id, c] : cumulative)
      if (u < c) {
        want = id;
        break;
      }
    const int got = sample_token(l.data(), 5, options(1, 3, 1), s);
    ASSERT_EQ(got, want) << "step " << s << ", u = " << u;
    ++counts[got];
  }
  // And the frequencies are the distribution's: 5 standard deviations of a binomial.
  for (const auto& [id, p] : std::vector<std::pair<int, double>>{{0, 0.3 / 0.85}, {2, 0.4 / 0.85}, {4, 0.15 / 0.85}})
    EXPECT_NEAR(counts[id] / double(n), p, 5 * std::sqrt(p * (1 - p) / n)) << "id " << id;
  EXPECT_EQ(counts[1] + counts[3], 0) << "ids outside the top-k drawn";
  // Another seed draws otherwise; the same seed the same.
  int differ = 0;
  for (uint64_t s = 0; s < 100; ++s) {
    differ += sample_token(l.data(), 5, options(1, 0, 1, 8), s) != sample_token(l.data(), 5, options(1, 0, 1, 7), s);
    EXPECT_EQ(sample_token(l.data(), 5, options(1, 0, 1, 8), s), sample_token(l.data(), 5, options(1, 0, 1, 8), s));
  }
  EXPECT_GT(differ, 10);
}

TEST(Sampling, RejectsBadOptions) {
  test::expect_error<ConfigError>([] { options(-0.5, 0, 1).validate(); }, {"--temperature -0.5", ">= 0"});
  test::expect_error<ConfigError>([] { options(1, -1, 1).validate(); }, {"--top-k -1"});
  test::expect_error<ConfigError>([] { options(1, 0, 0).validate(); }, {"--top-p 0", "(0, 1]"});
  test::expect_error<ConfigError>([] { options(1, 0, 1.01).validate(); }, {"--top-p 1.01", "(0, 1]"});
}

// ---- the loop ---------------------------------------------------------------------------------

ModelConfig tiny(const char* position) {
  ModelConfig cfg;
  cfg.vocab = 13;
  cfg.layers = 2;
  cfg.channels = 16;
  cfg.heads = 4;
  cfg.ffn = 32;
  cfg.seq_len = 8;
  cfg.position = parse_enum<PositionMethod>(position);
  return cfg;
}

TEST(Generate, SameSeedSameTokensAndGreedyFollowsTheArgmax) {
  Model<float> model(tiny("alibi"), 3);
  GenerateOptions o;
  o.max_new_tokens = 20;
  o.sampling = options(1, 0, 1, 5);
  const GenerateResult a = generate(model, {1, 2, 3}, o, 12);
  const GenerateResult b = generate(model, {1, 2, 3}, o, 12);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens.size(), 20u);
  EXPECT_EQ(a.decode_steps, 19);
  EXPECT_EQ(a.prompt_tokens, 3);

  // Greedy: each token is the argmax of a full forward over everything before it.
  o.sampling = options(0, 0, 1);
  o.max_new_tokens = 10;
  const GenerateResult g = generate(model, {4, 5}, o, 12);
  std::vector<int32_t> text = {4, 5};
  for (int32_t t : g.tokens) {
    model.forward(text.data(), nullptr, 1, static_cast<int>(text.size()));
    const float* last = model.logits().data<float>() + (text.size() - 1) * 13;
    EXPECT_EQ(t, static_cast<int32_t>(std::max_element(last, last + 13) - last));
    text.push_back(t);
  }
}

TEST(Generate, StopsAtEosWhenAsked) {
  Model<float> model(tiny("alibi"), 3);
  GenerateOptions o;
  o.max_new_tokens = 10;
  o.sampling = options(0, 0, 1);
  const GenerateResult g = generate(model, {4, 5}, o, 12);
  // Call the greedy run's third token EOS: with stop_at_eos the run ends there.
  o.stop_at_eos = true;
  const GenerateResult s = generate(model, {4, 5}, o, g.tokens[2]);
  const auto first = std::find(g.tokens.begin(), g.tokens.end(), g.tokens[2]);
  EXPECT_EQ(s.tokens, std::vector<int32_t>(g.tokens.begin(), first + 1));
}

TEST(Generate, WindowCutsTheFrontOfALongPrompt) {
  Model<float> model(tiny("alibi"), 3);
  GenerateOptions o;
  o.max_new_tokens = 30;
  o.max_context = 6;
  o.sampling = options(0, 0, 1);
  const GenerateResult r = generate(model, {1, 2, 3, 4, 5, 6, 7, 8, 9}, o, 12);
  EXPECT_EQ(r.prompt_dropped, 3);
  EXPECT_EQ(r.prompt_tokens, 6);
  EXPECT_EQ(r.tokens.size(), 30u);
}

TEST(Generate, RejectsBadInput) {
  Model<float> model(tiny("alibi"), 3);
  GenerateOptions o;
  test::expect_error<ConfigError>([&] { generate(model, {}, o, 12); }, {"prompt is empty", "--prompt"});
  test::expect_error<DataError>([&] { generate(model, {1, 13}, o, 12); }, {"prompt token id 13", "[0, 13)"});
  test::expect_error<DataError>([&] { generate(model, {-1}, o, 12); }, {"prompt token id -1"});
  o.sampling.top_p = 0;
  test::expect_error<ConfigError>([&] { generate(model, {1}, o, 12); }, {"--top-p 0"});
  ModelConfig learned = tiny("learned");
  learned.max_positions = 16;
  Model<float> lm(learned, 3);
  GenerateOptions lo;
  lo.max_new_tokens = 15;  // a prompt of 2 and 15 new: 16 positions run, the table's all
  EXPECT_EQ(generate(lm, {1, 2}, lo, 12).tokens.size(), 15u);
  lo.max_new_tokens = 16;
  test::expect_error<ConfigError>([&] { generate(lm, {1, 2}, lo, 12); },
                                  {"17 positions", "learned position table's 16 rows", "at most 15 new tokens"});
}

}  // namespace
}  // namespace alibi
