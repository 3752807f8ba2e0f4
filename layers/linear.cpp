// Linear layer: parameters and the calls into the BLAS-backed kernels.
#include "layers/linear.h"

#include "kernels/ops.h"

namespace alibi {

template <class Real>
Linear<Real>::Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed)
    : name_(name), in_(in), out_(out) {
  make_parameter<Real>(weight, dweight, name + ".weight", {out, in}, Init::normal, std, seed);
  if (bias) make_parameter<Real>(this->bias, dbias, name + ".bias", {out}, Init::zeros, 0.0, seed);
}

template <class Real>
void Linear<Real>::forward(Tensor& out, const Tensor& inp) const {
  const int64_t N = inp.numel() / in_;
  ALIBI_CHECK(inp.numel() == N * in_ && out.numel() == N * out_,
              name_ << ": input " << shape_str(inp.shape()) << " / output " << shape_str(out.shape())
                    << " do not match (" << in_ << " -> " << out_ << ")");
  cpu::linear_forward<Real>(out.data<Real>(), inp.data<Real>(), weight.data<Real>(),
                         bias.defined() ? bias.data<Real>() : nullptr, N, in_, out_);
}

template <class Real>
void Linear<Real>::backward(Tensor* dinp, const Tensor& dout, const Tensor& inp) {
  const int64_t N = inp.numel() / in_;
  cpu::linear_backward<Real>(dinp ? dinp->data<Real>() : nullptr, dweight.data<Real>(),
                          bias.defined() ? dbias.data<Real>() : nullptr, dout.data<Real>(), inp.data<Real>(),
                          weight.data<Real>(), N, in_, out_);
}

template <class Real>
void Linear<Real>::collect(ParameterList& params) {
  params.push_back({name_ + ".weight", &weight, &dweight, true});
  if (bias.defined()) params.push_back({name_ + ".bias", &bias, &dbias, false});
}

template class Linear<float>;
template class Linear<double>;

}  // namespace alibi
