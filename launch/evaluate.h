// The result of scoring a model on held-out windows (DESIGN.md "Sampling and evaluation
// windows"): perplexity = exp(mean loss over the scored targets).
#pragma once

#include <cmath>
#include <cstdint>

namespace alibi {

struct EvalResult {
  double loss_sum = 0;  // nats, summed over scored targets
  int64_t tokens = 0;   // scored targets
  double loss() const { return tokens ? loss_sum / static_cast<double>(tokens) : NAN; }
  double perplexity() const { return std::exp(loss()); }
};

}  // namespace alibi
