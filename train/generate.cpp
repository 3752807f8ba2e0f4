// Sampling and the generation loop (train/generate.h).
#include "train/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "runtime/rng.h"

namespace alibi {

void SamplingOptions::validate() const {
  ALIBI_CHECK_AS(ConfigError, std::isfinite(temperature) && temperature >= 0,
                 "--temperature " << temperature << " must be >= 0 (0: greedy; 1: the model's own distribution)");
  ALIBI_CHECK_AS(ConfigError, top_k >= 0, "--top-k " << top_k << " must be >= 0 (0: every token)");
  ALIBI_CHECK_AS(ConfigError, top_p > 0 && top_p <= 1,
                 "--top-p " << top_p << " is outside (0, 1]; 1 keeps every token, 0.9 the most likely 90% of the mass");
}

// ---- sampling ---------------------------------------------------------------------------

namespace {

int32_t argmax(const float* logits, int64_t V) {
  return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);  // the first of equal maxima
}

}  // namespace

std::vector<double> sampling_distribution(const float* logits, int64_t V, const SamplingOptions& o) {
  o.validate();
  std::vector<double> p(static_cast<size_t>(V), 0.0);
  if (o.temperature == 0) {
    p[argmax(logits, V)] = 1.0;
    return p;
  }
  // Ids by falling logit (the lower id first among equals): the first k, or all when top-p
  // needs them ranked; neither needs no ranking.
  const auto before = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const size_t k = o.top_k > 0 ? std::min<size_t>(o.top_k, order.size()) : order.size();
  if (k < order.size() || o.top_p < 1) {
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    order.resize(k);
  }
  const double max = *std::max_element(logits, logits + V);
  double total = 0;
  for (int32_t id : order) total += p[id] = std::exp((logits[id] - max) / o.temperature);
  // top-p: the fewest leading ids whose mass reaches top_p of the kept mass.
  size_t keep = order.size();
  if (o.top_p < 1) {
    double mass = 0;
    keep = 0;
    while (keep < order.size() && (keep == 0 || mass < o.top_p * total)) mass += p[order[keep++]];
    for (size_t i = keep; i < order.size(); ++i) p[order[i]] = 0;
    total = mass;
  }
  for (size_t i = 0; i < keep; ++i) p[order[i]] /= total;
  return p;
}

int32_t sample_token(const float* logits, int64_t V, const SamplingOptions& o, uint64_t step) {
  if (o.temperature == 0) return argmax(logits, V);
  const std::vector<double> p = sampling_distribution(logits, V, o);
  const double u = rng_uniform(rng_key(o.seed, "generate"), step);
  double cumulative = 0;
  int32_t last = 0;
  for (int64_t id = 0; id < V; ++id) {
    if (p[id] == 0) continue;
    cumulative += p[id];
    last = static_cast<int32_t>(id);
    if (u < cumulative) return last;
  }
  return last;  // u within rounding of 1: the last id of the support
}

// ---- the loop ---------------------------------------------------------------------------

std::vector<float> gather_logits(const Model<float>& model, const Tensor& local) {
  const Communicator& tp = model.grid().tp();
  const int64_t V = model.config().vocab;
  const auto [v0, v1] = model.vocab_range();
  ALIBI_CHECK(local.numel() == v1 - v0, "gather_logits: one row of " << v1 - v0 << " logits expected, got "
                                                                     << shape_str(local.shape()));
  Tensor on_host;  // logits of a model on the GPU come to the host (then MPI, whatever the TP communicator)
  const float* mine_first = (local.device() == Device::cpu ? local : (on_host = local.to(Device::cpu))).data<float>();
  if (tp.size() == 1) return std::vector<float>(mine_first, mine_first + V);
  // Shards differ in size by one at most (shard_range): gather them padded to the largest.
  const int64_t n = shard_range(V, tp.size(), 0).second;
  std::vector<float> mine(static_cast<size_t>(n), 0.0f), all(static_cast<size_t>(n * tp.size()));
  std::copy(mine_first, mine_first + (v1 - v0), mine.begin());
  tp.all_gather(mine.data(), all.data(), n, DType::f32);
  std::vector<float> out(static_cast<size_t>(V));
  for (int r = 0; r < tp.size(); ++r) {
    const auto [a, b] = shard_range(V, tp.size(), r);
    std::copy(all.begin() + r * n, all.begin() + r * n + (b - a), out.begin() + a);
  }
  return out;
}

GenerateResult generate(Model<float>& model, std::vector<int32_t> prompt, const GenerateOptions& o, int64_t eos_id,
                        const std::function<void(int32_t)>& on_token) {
  using Clock = std::chrono::steady_clock;
  const ModelConfig& cfg = model.config();
  o.sampling.validate();
  ALIBI_CHECK_AS(ConfigError, o.max_new_tokens >= 0, "--max-new-tokens " << o.max_new_tokens << " must be >= 0");
  ALIBI_CHECK_AS(ConfigError, o.max_context >= 0, "--max-context " << o.max_context << " must be >= 0 (0: no limit)");
  ALIBI_CHECK_AS(ConfigError, !prompt.empty(),
                 "the prompt is empty; give text (--prompt, --prompt-file) or ids (--prompt-ids; the EOS id "
                     << eos_id << " starts a fresh document)");
  for (int32_t id : prompt)
    ALIBI_CHECK_AS(DataError, id >= 0 && id < cfg.vocab,
                   "prompt token id " << id << " is outside the model's vocabulary [0, " << cfg.vocab << ")");
  GenerateResult r;
  if (o.max_context > 0 && static_cast<int64_t>(prompt.size()) > o.max_context) {
    r.prompt_dropped = static_cast<int64_t>(prompt.size()) - o.max_context;
    prompt.erase(prompt.begin(), prompt.begin() + r.prompt_dropped);
  }
  const int64_t P = static_cast<int64_t>(prompt.size());
  // The last new token is never fed back: P + max_new - 1 positions run.
  const int64_t positions = P + std::max(0, o.max_new_tokens - 1);
  if (cfg.position == PositionMethod::learned) {
    ALIBI_CHECK_AS(ConfigError, positions <= cfg.position_rows(),
                   "a prompt of " << P << " tokens and --max-new-tokens " << o.max_new_tokens << " need " << positions
                                  << " positions, past the learned position table's " << cfg.position_rows()
                                  << " rows (--max-positions): learned positions cannot go further; use at most "
                                  << std::max<int64_t>(0, cfg.position_rows() - P + 1) << " new tokens");
  }
  // A window keeps max_context positions plus spare slots, so its moves back to slot 0 come
  // every quarter window (kv_cache.h); without one, the cache holds everything that runs.
  const int64_t capacity =
      o.max_context > 0 ? std::min(positions, o.max_context + std::max<int64_t>(64, o.max_context / 4)) : positions;
  KvCache cache = model.make_cache(capacity, o.max_context);
  r.cache_bytes = cache.bytes();
  r.prompt_tokens = P;
  const Communicator& tp = model.grid().tp();

  // Every rank feeds the same token: tp rank 0's draw (the gathered logits are the same
  // everywhere, but a draw must not hang on that).
  auto next_token = [&](const Tensor& logits, uint64_t step) {
    const std::vector<float> full = gather_logits(model, logits);
    int32_t token = sample_token(full.data(), cfg.vocab, o.sampling, step);
    tp.broadcast(&token, 1, 0);
    return token;
  };

  const auto t0 = Clock::now();
  const Tensor& prompt_logits = model.forward_cached(prompt.data(), static_cast<int>(P), cache);
  r.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (o.max_new_tokens == 0) return r;
  const auto t1 = Clock::now();
  int32_t token = next_token(prompt_logits, 0);
  for (;;) {
    r.tokens.push_back(token);
    if (on_token) on_token(token);
    const bool stop = static_cast<int>(r.tokens.size()) == o.max_new_tokens || (o.stop_at_eos && token == eos_id);
    if (stop) break;
    token = next_token(model.forward_cached(&token, 1, cache), r.tokens.size());
    ++r.decode_steps;
  }
  r.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return r;
}

}  // namespace alibi
