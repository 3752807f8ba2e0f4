// The feed-forward network: Linear C -> F, GELU (tanh form), Linear F -> C.
#pragma once

#include <string>

#include "layers/linear.h"

namespace alibi {

template <class Real>
class Mlp {
 public:
  Mlp() = default;
  Mlp(const std::string& name, int64_t C, int64_t F, double proj_std, uint64_t seed);

  // out (N, C) `=`; keeps fc and gelu activations (N, F) for backward.
  void forward(Tensor& out, const Tensor& inp);
  // dinp `=`; parameter grads `+=`.
  void backward(Tensor& dinp, const Tensor& dout, const Tensor& inp);

  void collect(ParameterList& params);

  Linear<Real> fc;    // C -> F
  Linear<Real> proj;  // F -> C

 private:
  Tensor fch_;       // (N, F) pre-activation
  Tensor fch_gelu_;  // (N, F)
};

}  // namespace alibi
