// Scoring a model on held-out windows (DESIGN.md "Sampling and evaluation windows"):
// perplexity = exp(mean loss over the scored targets). Used by `alibi train` (validation,
// non-overlapping windows) and `alibi eval` (any length, sliding or not).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>

#include "data/eval_windows.h"
#include "layers/model.h"
#include "parallel/grid.h"

namespace alibi {

struct EvalResult {
  double loss_sum = 0;  // nats, summed over scored targets
  int64_t tokens = 0;   // scored targets
  // The first window (global index) of the first batch whose loss was not finite; -1:
  // every batch was finite. (A batch's loss is one sum, so the window is within B of it.)
  int64_t first_nonfinite_window = -1;
  double loss() const { return tokens ? loss_sum / static_cast<double>(tokens) : NAN; }
  double perplexity() const { return std::exp(loss()); }
};

// Scores this rank's windows B at a time through the pipeline (forward only) and sums
// over the world; every rank returns the same result. max_batches > 0 stops early.
// progress(done, total) runs after each batch with this rank's window counts.
// on_batch(n, targets) runs after each batch of n windows on the ranks that hold the losses
// (the last stage, TP rank 0): model.losses() then has each position's loss, and targets
// (n, T) says which are scored (>= 0).
EvalResult score_windows(Model<float>& model, const ProcessGrid& grid, SlidingWindows& windows, int T, int B,
                         int max_batches = 0, const std::function<void(int64_t, int64_t)>& progress = {},
                         const std::function<void(int, const int32_t*)>& on_batch = {});

}  // namespace alibi
