// Parameter creation and initialisation by (seed, name, global index).
#include "layers/parameters.h"

#include "runtime/rng.h"

namespace alibi {

template <class Real>
void make_parameter(Tensor& value, Tensor& grad, const std::string& name, const Shape& shape,
                    Init init, double std, uint64_t seed) {
  value = Tensor::empty(shape, dtype_of<Real>());
  grad = Tensor::zeros(shape, dtype_of<Real>());
  Real* v = value.data<Real>();
  const int64_t n = value.numel();
  switch (init) {
    case Init::zeros:
      value.zero_();
      break;
    case Init::ones:
      for (int64_t i = 0; i < n; ++i) v[i] = Real(1);
      break;
    case Init::normal: {
      const uint64_t key = rng_key(seed, name);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) v[i] = static_cast<Real>(std * rng_normal(key, static_cast<uint64_t>(i)));
      break;
    }
  }
}

void zero_grads(const ParameterList& params) {
  for (const ParamRef& p : params) p.grad->zero_();
}

template void make_parameter<float>(Tensor&, Tensor&, const std::string&, const Shape&, Init, double, uint64_t);
template void make_parameter<double>(Tensor&, Tensor&, const std::string&, const Shape&, Init, double, uint64_t);

}  // namespace alibi
