// The GPT-style language model: token embedding (no position embedding with ALiBi:
// positions live in the attention scores), L pre-LN blocks, a final LayerNorm and the LM
// head, tied to the embedding by default.
//
//   Model<float> model(config, seed);
//   double loss_sum = model.forward(tokens, targets, B, T);   // sum over scored targets
//   model.backward(1.0f / n_targets);                         // grads += d(mean loss)
//   for (const ParamRef& p : model.parameters()) ...          // names, values, grads
#pragma once

#include <memory>
#include <vector>

#include "layers/block.h"
#include "runtime/config.h"

namespace alibi {

template <class Real>
class Model {
 public:
  Model(const ModelConfig& config, uint64_t seed);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // tokens, targets (B, T) int32; a negative target is not scored. Returns the sum of the
  // scored targets' losses (double) and keeps activations for backward. With targets
  // null, computes logits only.
  double forward(const int32_t* tokens, const int32_t* targets, int B, int T);
  // Gradients `+=` of scale * (the sum of losses forward returned): pass
  // 1 / (scored targets in the global batch) to optimise the mean. Call once per forward.
  void backward(Real scale);

  // Number of targets the last forward scored.
  int64_t scored_targets() const { return scored_; }
  const Tensor& logits() const { return logits_; }  // (B*T, V), after forward
  const Tensor& losses() const { return losses_; }  // (B*T), after forward with targets

  const ParameterList& parameters() const { return params_; }
  const ModelConfig& config() const { return config_; }

  Tensor wte, dwte;  // (V, C) token embedding; the LM head when tied
  std::vector<Block<Real>> blocks;
  LayerNorm<Real> ln_f;
  Linear<Real> lm_head;  // (V, C), only when not tied

 private:
  ModelConfig config_;
  ParameterList params_;
  int B_ = 0, T_ = 0;
  int64_t scored_ = 0;
  std::vector<int32_t> tokens_, targets_;
  std::vector<Tensor> residuals_;  // L+1 tensors (B*T, C): embedding out, each block's out
  Tensor lnf_out_, lnf_mean_, lnf_rstd_;
  Tensor logits_;                  // (B*T, V); holds dlogits after backward
  Tensor losses_;                  // (B*T)
};

}  // namespace alibi
