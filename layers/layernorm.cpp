// LayerNorm layer over the row kernels.
#include "layers/layernorm.h"

#include "kernels/dispatch.h"

namespace alibi {

template <class Real>
LayerNorm<Real>::LayerNorm(const std::string& name, int64_t C, uint64_t seed) : name_(name), C_(C) {
  make_parameter<Real>(weight, dweight, name + ".weight", {C}, Sharding::whole({C}), Init::ones, 0.0, seed);
  make_parameter<Real>(bias, dbias, name + ".bias", {C}, Sharding::whole({C}), Init::zeros, 0.0, seed);
}

template <class Real>
void LayerNorm<Real>::forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& inp) const {
  const int64_t N = inp.numel() / C_;
  ops::layernorm_forward<Real>(weight.device(), real_view<Real>(out), mean.data<Real>(), rstd.data<Real>(), inp.data<Real>(),
                               weight.data<Real>(), bias.data<Real>(), N, C_, bf16_view(out));
}

template <class Real>
void LayerNorm<Real>::forward_residual(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& a,
                                       const Tensor& b) const {
  const int64_t N = a.numel() / C_;
  ops::add_layernorm_forward<Real>(weight.device(), residual.data<Real>(), real_view<Real>(out), mean.data<Real>(),
                                   rstd.data<Real>(), a.data<Real>(), b.data<Real>(), weight.data<Real>(),
                                   bias.data<Real>(), N, C_, bf16_view(out));
}

template <class Real>
void LayerNorm<Real>::backward(Tensor& dinp, const Tensor& dout, const Tensor& inp, const Tensor& mean,
                            const Tensor& rstd) {
  const int64_t N = inp.numel() / C_;
  ops::layernorm_backward<Real>(weight.device(), dinp.data<Real>(), dweight.data<Real>(), dbias.data<Real>(), dout.data<Real>(),
                             inp.data<Real>(), weight.data<Real>(), mean.data<Real>(), rstd.data<Real>(), N, C_);
}

template <class Real>
void LayerNorm<Real>::collect(ParameterList& params) {
  params.push_back({name_ + ".weight", &weight, &dweight, false, Sharding::whole({C_})});
  params.push_back({name_ + ".bias", &bias, &dbias, false, Sharding::whole({C_})});
}

template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace alibi
