// LayerNorm over channels with learned scale and shift (eps 1e-5).
#pragma once

#include <string>

#include "layers/linear.h"
#include "layers/parameters.h"

namespace alibi {

template <class Real>
class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(const std::string& name, int64_t C, uint64_t seed);

  // out (N, C), Real or bf16 (u16: written in bf16, layers/linear.h product_input_dtype); mean,
  // rstd (N) kept by the caller for backward.
  void forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& inp) const;
  // residual = a + b (N, C), then out = LayerNorm(residual): the block's residual add and its
  // second LayerNorm, one kernel on CUDA.
  void forward_residual(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& a,
                        const Tensor& b) const;
  // dinp `+=` (the residual stream); dweight, dbias `+=`.
  void backward(Tensor& dinp, const Tensor& dout, const Tensor& inp, const Tensor& mean,
                const Tensor& rstd);

  void collect(ParameterList& params);

  Tensor weight, dweight;  // (C)
  Tensor bias, dbias;      // (C)

 private:
  std::string name_;
  int64_t C_ = 0;
};

}  // namespace alibi
