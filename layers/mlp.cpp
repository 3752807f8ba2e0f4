// MLP layer.
#include "layers/mlp.h"

#include "kernels/dispatch.h"
#include "parallel/tensor_parallel.h"

namespace alibi {

template <class Real>
Mlp<Real>::Mlp(const std::string& name, int64_t C, int64_t F, double proj_std, uint64_t seed,
               const Communicator& tp)
    : tp_(&tp) {
  const int64_t F_local = F / tp.size(), f0 = F_local * tp.rank();
  fc = Linear<Real>(name + ".fc", C, F_local, true, 0.02, seed, Sharding::rows({F, C}, f0), Sharding::range(F, f0));
  proj = Linear<Real>(name + ".proj", F_local, C, true, proj_std, seed, Sharding::cols({C, F}, f0),
                      Sharding::whole({C}));
}

template <class Real>
void Mlp<Real>::forward(Tensor& out, const Tensor& inp) {
  forward_hidden(inp);
  proj.forward(out, fch_gelu_, /*add_bias=*/false);
  reduce_from_tp_forward(*tp_, out);
  proj.add_bias(out);
}

template <class Real>
void Mlp<Real>::forward_hidden(const Tensor& inp) {
  const int64_t N = inp.numel() / fc.in_features();
  const int64_t F = fc.out_features();
  if (!fch_.defined() || fch_.dim(0) != N) {
    fch_ = Tensor::empty({N, F}, dtype_of<Real>(), inp.device());
  }
  if (!fch_gelu_.defined() || fch_gelu_.dim(0) != N || fch_gelu_.dtype() != product_input_dtype<Real>(proj.precision))
    fch_gelu_ = Tensor::empty({N, F}, product_input_dtype<Real>(proj.precision), inp.device());
  // copy_to_tp: identity forward. fch_ = inp W^T + b, fch_gelu_ = gelu(fch_) (fused on CUDA).
  ops::linear_gelu_forward<Real>(inp.device(), fc.precision, fch_.data<Real>(), real_view<Real>(fch_gelu_),
                                 real_view<Real>(inp), fc.weight.template data<Real>(), fc.bias.template data<Real>(), N,
                                 fc.in_features(), F, fc.weight_bf16(), bf16_view(inp), bf16_view(fch_gelu_));
}

template <class Real>
void Mlp<Real>::backward(Tensor& dinp, const Tensor& dout, const Tensor& inp) {
  Tensor dgelu = Tensor::empty(fch_.shape(), dtype_of<Real>(), fch_.device());
  proj.backward(&dgelu, dout, fch_gelu_);
  // In place: dgelu becomes d(fch_), and fc's bias gradient its column sums (one pass on CUDA).
  ops::gelu_bias_backward<Real>(fch_.device(), dgelu.data<Real>(), fc.dbias.template data<Real>(), fch_.data<Real>(),
                                dgelu.data<Real>(), fch_.dim(0), fch_.dim(1));
  fc.backward(&dinp, dgelu, inp, /*bias_grad=*/false);
  copy_to_tp_backward(*tp_, dinp);
}

template <class Real>
void Mlp<Real>::collect(ParameterList& params) {
  fc.collect(params);
  proj.collect(params);
}

template class Mlp<float>;
template class Mlp<double>;

}  // namespace alibi
