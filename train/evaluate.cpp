// Forward-only scoring of evaluation windows over the process grid.
#include "train/evaluate.h"

#include <cmath>
#include <limits>

#include <vector>

#include "parallel/pipeline.h"

namespace alibi {

namespace {

// The model as the forward-only pipeline schedule sees one stage.
struct EvalStage {
  Model<float>& model;
  int B, T;
  const int32_t* inputs;
  const int32_t* targets;
  double loss_sum = 0;
  Tensor& input(int slot) { return model.stage_input(slot, B, T); }
  Tensor& output(int slot) { return model.stage_output(slot); }
  void forward(int, int slot) {
    loss_sum += model.forward_stage(slot, inputs, targets, B, T, /*for_backward=*/false);
  }
};

}  // namespace

EvalResult score_windows(Model<float>& model, const ProcessGrid& grid, SlidingWindows& windows, int T, int B,
                         int max_batches, const std::function<void(int64_t, int64_t)>& progress,
                         const std::function<void(int, const int32_t*)>& on_batch) {
  std::vector<int32_t> inputs(size_t(B) * T), targets(size_t(B) * T);
  // Each loss once: the last stage's TP rank 0 of every DP replica.
  const bool reports = model.has_head() && grid.coord().tp_rank == 0;
  double loss_sum = 0, tokens = 0;
  int64_t done = 0, first_bad = std::numeric_limits<int64_t>::max();
  const int64_t dp_rank = grid.coord().dp_rank, dp = grid.shape().dp;
  for (int batch = 0; max_batches <= 0 || batch < max_batches; ++batch) {
    const int n = windows.next_batch(B, inputs.data(), targets.data());  // the same n on every stage
    if (n == 0) break;
    EvalStage stage{model, n, T, inputs.data(), targets.data()};
    run_forward_only(stage, grid, 1);
    if (reports) {
      loss_sum += stage.loss_sum;
      // This rank's windows are dp_rank + k * dp (SlidingWindows::next_batch).
      if (!std::isfinite(stage.loss_sum) && first_bad == std::numeric_limits<int64_t>::max())
        first_bad = dp_rank + done * dp;
      tokens += static_cast<double>(model.scored_targets(0));
      if (on_batch) on_batch(n, targets.data());
    }
    done += n;
    if (progress) progress(done, windows.count_for_rank());
  }
  EvalResult r;
  r.loss_sum = grid.world().sum(loss_sum);
  r.tokens = static_cast<int64_t>(grid.world().sum(tokens));
  int64_t neg = -first_bad;  // the minimum over ranks, as a maximum
  grid.world().all_reduce_max(&neg, 1);
  r.first_nonfinite_window = -neg == std::numeric_limits<int64_t>::max() ? -1 : -neg;
  return r;
}

}  // namespace alibi
