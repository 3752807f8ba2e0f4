// Linear layer: parameters and the calls into the BLAS-backed kernels.
#include "layers/linear.h"

#include <type_traits>

#include "kernels/dispatch.h"

namespace alibi {

template <class Real>
Linear<Real>::Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed)
    : Linear(name, in, out, bias, std, seed, Sharding::whole({out, in}), Sharding::whole({out})) {}

template <class Real>
Linear<Real>::Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed,
                     const Sharding& weight_sharding, const Sharding& bias_sharding)
    : name_(name), in_(in), out_(out), weight_sharding_(weight_sharding), bias_sharding_(bias_sharding) {
  make_parameter<Real>(weight, dweight, name + ".weight", {out, in}, weight_sharding, Init::normal, std, seed);
  if (bias) {
    make_parameter<Real>(this->bias, dbias, name + ".bias", {out}, bias_sharding, Init::zeros, 0.0, seed);
  }
}

template <class Real>
void Linear<Real>::forward(Tensor& out, const Tensor& inp, bool add_bias) const {
  const int64_t N = inp.numel() / in_;
  ALIBI_CHECK(inp.numel() == N * in_ && out.numel() == N * out_,
              name_ << ": input " << shape_str(inp.shape()) << " / output " << shape_str(out.shape())
                    << " do not match (" << in_ << " -> " << out_ << ")");
  const Real* b = add_bias && bias.defined() ? bias.data<Real>() : nullptr;
  ops::linear_forward<Real>(weight.device(), precision, out.data<Real>(), real_view<Real>(inp), weight.data<Real>(), b, N,
                            in_, out_, weight_bf16(), bf16_view(inp));
}

template <class Real>
const uint16_t* Linear<Real>::weight_bf16() const {
  if constexpr (std::is_same_v<Real, float>) {
    if (precision == MatmulPrecision::bf16) return weight16_->of(weight);
  }
  return nullptr;
}

template <class Real>
void Linear<Real>::add_bias(Tensor& out) const {
  if (!bias.defined()) return;
  ops::add_bias<Real>(bias.device(), out.data<Real>(), bias.data<Real>(), out.numel() / out_, out_);
}

template <class Real>
void Linear<Real>::backward(Tensor* dinp, const Tensor& dout, const Tensor& inp, bool bias_grad) {
  const int64_t N = inp.numel() / in_;
  ops::linear_backward<Real>(weight.device(), precision, dinp ? dinp->data<Real>() : nullptr, dweight.data<Real>(),
                             bias_grad && bias.defined() ? dbias.data<Real>() : nullptr, dout.data<Real>(),
                             real_view<Real>(inp), weight.data<Real>(), N, in_, out_, weight_bf16(), bf16_view(inp));
}

template <class Real>
void Linear<Real>::collect(ParameterList& params) {
  params.push_back({name_ + ".weight", &weight, &dweight, true, weight_sharding_});
  if (bias.defined()) params.push_back({name_ + ".bias", &bias, &dbias, false, bias_sharding_});
}

template class Linear<float>;
template class Linear<double>;

}  // namespace alibi
