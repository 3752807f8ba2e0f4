// MLP layer.
#include "layers/mlp.h"

#include "kernels/ops.h"

namespace alibi {

template <class Real>
Mlp<Real>::Mlp(const std::string& name, int64_t C, int64_t F, double proj_std, uint64_t seed) {
  fc = Linear<Real>(name + ".fc", C, F, true, 0.02, seed);
  proj = Linear<Real>(name + ".proj", F, C, true, proj_std, seed);
}

template <class Real>
void Mlp<Real>::forward(Tensor& out, const Tensor& inp) {
  const int64_t N = inp.numel() / fc.in_features();
  const int64_t F = fc.out_features();
  if (!fch_.defined() || fch_.dim(0) != N) {
    fch_ = Tensor::empty({N, F}, dtype_of<Real>());
    fch_gelu_ = Tensor::empty({N, F}, dtype_of<Real>());
  }
  fc.forward(fch_, inp);
  cpu::gelu_forward<Real>(fch_gelu_.data<Real>(), fch_.data<Real>(), N * F);
  proj.forward(out, fch_gelu_);
}

template <class Real>
void Mlp<Real>::backward(Tensor& dinp, const Tensor& dout, const Tensor& inp) {
  Tensor dgelu = Tensor::empty(fch_.shape(), dtype_of<Real>());
  proj.backward(&dgelu, dout, fch_gelu_);
  cpu::gelu_backward<Real>(dgelu.data<Real>(), fch_.data<Real>(), dgelu.data<Real>(), dgelu.numel());  // in place
  fc.backward(&dinp, dgelu, inp);
}

template <class Real>
void Mlp<Real>::collect(ParameterList& params) {
  fc.collect(params);
  proj.collect(params);
}

template class Mlp<float>;
template class Mlp<double>;

}  // namespace alibi
