// Generation: the sampler (temperature, top-k, top-p over full-vocabulary logits) and the
// loop that runs a model's KV cache: the prompt in one blocked forward, then one token
// per step. Under tensor parallelism every rank of the TP group calls generate() with the
// same prompt and options; the logits of the vocabulary shards are gathered, tp rank 0
// draws the token and broadcasts it, so every rank feeds the same token to its heads.
//
//   SamplingOptions s{.temperature = 0.8, .top_k = 40, .top_p = 0.95, .seed = 1};
//   GenerateOptions g{.max_new_tokens = 100, .sampling = s, .stop_at_eos = true};
//   GenerateResult r = generate(model, prompt_ids, g, tokenizer.eos_id,
//                               [&](int32_t id) { std::fputs(tokenizer.decode(&id, 1).c_str(), stdout); });
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "layers/model.h"

namespace alibi {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (the argmax; the lowest id among equal maxima)
  int top_k = 0;             // keep the k most likely ids (0: all)
  double top_p = 1.0;        // then the fewest most likely ids whose probability reaches top_p
  uint64_t seed = 0;         // the draws: step s uses rng_uniform(rng_key(seed, "generate"), s)
  // ConfigError naming the option: --temperature < 0, --top-k < 0, --top-p outside (0, 1].
  void validate() const;
};

// The distribution a step draws from, in double: softmax(logits / temperature) restricted
// to the top_k most likely ids, then to the smallest set of most likely ids whose mass
// reaches top_p, renormalised; 0 outside. Temperature 0 puts all mass on the argmax. Ties in
// the ranking go to the lower id.
std::vector<double> sampling_distribution(const float* logits, int64_t V, const SamplingOptions& o);

// The token of step `step` (0 for the first new token): the argmax at temperature 0,
// otherwise the id where the cumulative distribution, in id order, passes the step's draw.
int32_t sample_token(const float* logits, int64_t V, const SamplingOptions& o, uint64_t step);

struct GenerateOptions {
  int max_new_tokens = 256;
  SamplingOptions sampling;
  bool stop_at_eos = false;  // stop after generating EOS (which is then the last token)
  int64_t max_context = 0;   // positions attended to (a sliding window); 0: all (memory allows)
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // the new tokens
  int64_t prompt_tokens = 0;    // prompt tokens run (after any cut to max_context)
  int64_t prompt_dropped = 0;   // prompt tokens cut from the front to fit max_context
  double prompt_seconds = 0;    // the prompt's forward
  int64_t decode_steps = 0;     // forwards of one token (every new token but the last)
  double decode_seconds = 0;    // those forwards, and every draw
  size_t cache_bytes = 0;       // this rank's KV cache
};

// Full-vocabulary logits (V) on every rank of the TP group from each rank's shard (rows 1,
// V_local) of Model::forward_cached.
std::vector<float> gather_logits(const Model<float>& model, const Tensor& local);

// Collective over the model's TP group. on_token runs on every rank after each new token.
// ConfigError before any work for an empty prompt or one a learned position table cannot
// hold; DataError for ids outside the vocabulary.
GenerateResult generate(Model<float>& model, std::vector<int32_t> prompt, const GenerateOptions& o, int64_t eos_id,
                        const std::function<void(int32_t)>& on_token = {});

}  // namespace alibi
