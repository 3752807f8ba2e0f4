// Validation loss over non-overlapping windows, B windows per forward.
#include "launch/evaluate.h"

#include <vector>

#include "data/sampler.h"

namespace alibi {

EvalResult evaluate_loss(Model<float>& model, const Corpus& corpus, Split split, int T, int B, int max_batches) {
  EvalWindows windows(corpus, split, T);
  EvalResult result;
  std::vector<int32_t> inputs(size_t(B) * T), targets(size_t(B) * T);
  for (int batch = 0; max_batches <= 0 || batch < max_batches; ++batch) {
    const int n = windows.next_batch(B, inputs.data(), targets.data());
    if (n == 0) break;
    result.loss_sum += model.forward(inputs.data(), targets.data(), n, T);
    result.tokens += model.scored_targets();
  }
  return result;
}

}  // namespace alibi
