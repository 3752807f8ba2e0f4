// Forward-only scoring of evaluation windows over the process grid.
#include "train/evaluate.h"

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
  int64_t done = 0;
  for (int batch = 0; max_batches <= 0 || batch < max_batches; ++batch) {
    const int n = windows.next_batch(B, inputs.data(), targets.data());  // the same n on every stage
    if (n == 0) break;
    EvalStage stage{model, n, T, inputs.data(), targets.data()};
    run_forward_only(stage, grid, 1);
    if (reports) {
      loss_sum += stage.loss_sum;
      tokens += static_cast<double>(model.scored_targets(0));
      if (on_batch) on_batch(n, targets.data());
    }
    done += n;
    if (progress) progress(done, windows.count_for_rank());
  }
  EvalResult r;
  r.loss_sum = grid.world().sum(loss_sum);
  r.tokens = static_cast<int64_t>(grid.world().sum(tokens));
  return r;
}

}  // namespace alibi
