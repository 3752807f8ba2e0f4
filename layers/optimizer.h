// AdamW over a model's ParameterList, with the global gradient-norm clip and the
// learning-rate schedule (linear warm-up, then cosine decay to min-lr).
//
//   AdamW<float> opt(model.parameters(), {0.9f, 0.95f, 1e-8f});
//   double norm = clip_grad_norm(model.parameters(), 1.0, grid);   // returns the pre-clip norm
//   opt.step(lr_at(step, schedule), weight_decay);
#pragma once

#include <vector>

#include "layers/parameters.h"
#include "parallel/data_parallel.h"
#include "parallel/grid.h"

namespace alibi {

struct AdamWHyper {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
};

template <class Real>
class AdamW {
 public:
  // `slices` (ZeRO-1; one per parameter): the elements of each parameter this rank
  // updates and keeps moments for, e.g. GradBuckets::owned; empty: every element.
  AdamW(const ParameterList& params, const AdamWHyper& hyper, std::vector<ElementRange> slices = {});

  // One update of every parameter (its slice) from its gradient. Weight decay (decoupled)
  // applies to parameters marked decay (matrices), not to LayerNorm weights or biases.
  // Bumps each updated parameter's storage version (runtime/tensor.h), so the products'
  // bf16 working copies are remade on their next use (layers/bf16_copy.h).
  void step(float lr, float weight_decay);

  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t step) { step_ = step; }
  // First and second moments, in the order of the parameter list (checkpointed), each of
  // its slice's size (1-D when a slice is not the whole parameter).
  std::vector<Tensor>& first_moments() { return m_; }
  std::vector<Tensor>& second_moments() { return v_; }
  const std::vector<ElementRange>& slices() const { return slices_; }

 private:
  ParameterList params_;
  AdamWHyper hyper_;
  std::vector<ElementRange> slices_;
  std::vector<Tensor> m_, v_;
  int64_t step_ = 0;
};

// The L2 norm of the whole model's gradients over the grid, each global element counted
// once (DESIGN.md "Process grid"): TP shards sum over TP, replicated tensors count on TP
// rank 0 only, the tied copy not at all, stages add over PP, and DP replicas (already
// averaged) count on DP rank 0 only. Collective over grid.world(); every rank gets the
// same norm. When it exceeds max_norm > 0, scales every local gradient by
// max_norm / (norm + 1e-6). Returns the norm before clipping.
//
// With `dp_shards` (ZeRO-1, one range per parameter: the part whose DP sum this rank
// holds, AdamW::slices), each DP rank counts and scales only its ranges, which are
// disjoint over DP and together cover every element once.
template <class Real>
double global_grad_norm(const ParameterList& params, const ProcessGrid& grid,
                        const std::vector<ElementRange>* dp_shards = nullptr);
template <class Real>
double clip_grad_norm(const ParameterList& params, double max_norm, const ProcessGrid& grid,
                      const std::vector<ElementRange>* dp_shards = nullptr);

struct LrSchedule {
  double lr = 3e-4;       // peak
  double min_lr = 3e-5;   // reached at the last step
  int64_t warmup = 100;   // steps of linear warm-up from 0
  int64_t total = 1000;   // steps of the run
};

// Learning rate for 0-based step `step`: (step+1)/warmup * lr during warm-up, then cosine
// from lr down to min_lr at step total-1.
double lr_at(int64_t step, const LrSchedule& s);

}  // namespace alibi
