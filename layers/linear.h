// Linear: y = x W^T + b, W stored (out, in) as in the checkpoint format.
#pragma once

#include <string>

#include "layers/parameters.h"

namespace alibi {

template <class Real>
class Linear {
 public:
  Linear() = default;
  // std: initial weight standard deviation (GPT-2: 0.02, residual projections scaled down).
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed);

  // out (N, out) = inp (N, in) W^T + b
  void forward(Tensor& out, const Tensor& inp) const;
  // dinp `=` (skipped when null); dweight, dbias `+=`.
  void backward(Tensor* dinp, const Tensor& dout, const Tensor& inp);

  void collect(ParameterList& params);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  Tensor weight, dweight;  // (out, in)
  Tensor bias, dbias;      // (out), undefined without bias

 private:
  std::string name_;
  int64_t in_ = 0, out_ = 0;
};

}  // namespace alibi
