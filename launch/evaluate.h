// Loss of a model over a split's non-overlapping windows (DESIGN.md "Sampling and
// evaluation windows"): window k covers tokens k*T .. k*T+T and scores all T targets.
#pragma once

#include <cmath>

#include "data/corpus.h"
#include "layers/model.h"

namespace alibi {

struct EvalResult {
  double loss_sum = 0;  // nats, summed over scored targets
  int64_t tokens = 0;   // scored targets
  double loss() const { return tokens ? loss_sum / static_cast<double>(tokens) : NAN; }
  double perplexity() const { return std::exp(loss()); }
};

// Scores the first max_batches x B windows of `split` (all windows when max_batches is 0).
EvalResult evaluate_loss(Model<float>& model, const Corpus& corpus, Split split, int T, int B, int max_batches);

}  // namespace alibi
