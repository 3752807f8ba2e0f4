// Parameter creation and initialisation by (seed, name, global index).
#include "layers/parameters.h"

#include "runtime/error.h"
#include "runtime/rng.h"

namespace alibi {

template <class Real>
void make_parameter(Tensor& value, Tensor& grad, const std::string& name, const Shape& shape,
                    const Sharding& sharding, Init init, double std, uint64_t seed) {
  ALIBI_CHECK(shape.size() <= 2 && shape.size() == sharding.global_shape.size() &&
                  sharding.offset.size() == shape.size(),
              name << ": sharding of " << shape_str(shape) << " in " << shape_str(sharding.global_shape));
  for (size_t d = 0; d < shape.size(); ++d) {
    ALIBI_CHECK(sharding.offset[d] + shape[d] <= sharding.global_shape[d],
                name << ": block " << shape_str(shape) << " at offset " << sharding.offset[d]
                     << " exceeds the global " << shape_str(sharding.global_shape));
  }
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
      const int64_t cols = shape.size() == 2 ? shape[1] : n;
      const int64_t global_cols = shape.size() == 2 ? sharding.global_shape[1] : 0;
      const int64_t row0 = sharding.offset[0], col0 = shape.size() == 2 ? sharding.offset[1] : 0;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t global = shape.size() == 2 ? (row0 + i / cols) * global_cols + col0 + i % cols : row0 + i;
        v[i] = static_cast<Real>(std * rng_normal(key, static_cast<uint64_t>(global)));
      }
      break;
    }
  }
}

void zero_grads(const ParameterList& params) {
  for (const ParamRef& p : params) p.grad->zero_();
}

template void make_parameter<float>(Tensor&, Tensor&, const std::string&, const Shape&, const Sharding&,
                                    Init, double, uint64_t);
template void make_parameter<double>(Tensor&, Tensor&, const std::string&, const Shape&, const Sharding&,
                                     Init, double, uint64_t);

}  // namespace alibi
