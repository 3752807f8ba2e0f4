// The feed-forward network: Linear C -> F, GELU (tanh form), Linear F -> C. Tensor
// parallel as Megatron: fc column-parallel (F split), proj row-parallel, one all-reduce
// forward and one backward.
#pragma once

#include <string>

#include "layers/linear.h"
#include "parallel/comm.h"

namespace alibi {

template <class Real>
class Mlp {
 public:
  Mlp() = default;
  // F: the global width; this rank holds columns [tp.rank() F/tp, (tp.rank()+1) F/tp).
  Mlp(const std::string& name, int64_t C, int64_t F, double proj_std, uint64_t seed, const Communicator& tp);

  // out (N, C) `=`; keeps fc and gelu activations (N, F) for backward.
  void forward(Tensor& out, const Tensor& inp);
  // Only what backward needs: the fc and gelu activations (full recomputation reruns
  // this, not the projection and its all-reduce, whose output backward does not read).
  void forward_hidden(const Tensor& inp);
  // dinp `=`; parameter grads `+=`.
  void backward(Tensor& dinp, const Tensor& dout, const Tensor& inp);
  // Drops the fc and gelu activations (see Block::release_activations).
  void release_activations() { fch_ = fch_gelu_ = Tensor(); }

  void collect(ParameterList& params);
  void set_precision(MatmulPrecision precision) { fc.precision = proj.precision = precision; }

  Linear<Real> fc;    // C -> F_local, column-parallel
  Linear<Real> proj;  // F_local -> C, row-parallel

 private:
  const Communicator* tp_ = nullptr;
  Tensor fch_;       // (N, F_local) pre-activation
  Tensor fch_gelu_;  // (N, F_local); bf16 under bf16 precision (it feeds only proj's products)
};

}  // namespace alibi
