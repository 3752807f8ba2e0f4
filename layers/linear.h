// Linear: y = x W^T + b, W stored (out, in) as in the checkpoint format. Tensor-parallel
// layers use it for their local block: column-parallel (W's rows split, bias split) or
// row-parallel (W's columns split, bias replicated and added once after the reduction).
//
// Under --matmul-precision bf16 the products read W's bf16 working copy (layers/bf16_copy.h),
// remade once per weight change. Copies of a Linear (the model's per-micro-batch slots and
// its decoder copy the blocks) share W, and share its working copy too. The input may be kept
// in bf16 too (product_input_dtype below): forward and backward then read it as stored.
#pragma once

#include <memory>
#include <string>
#include <type_traits>

#include "kernels/precision.h"
#include "layers/bf16_copy.h"
#include "layers/parameters.h"

namespace alibi {

// The dtype a layer keeps an activation in when it feeds only products (the LayerNorms' and
// the GELU's outputs): under bf16 precision (float layers) its bf16 bits, DType::u16, which
// the products read as they are (the bits they would round the fp32 values to) in half the
// memory; Real otherwise.
template <class Real>
DType product_input_dtype(MatmulPrecision precision) {
  if constexpr (std::is_same_v<Real, float>) {
    if (precision == MatmulPrecision::bf16) return DType::u16;
  }
  return dtype_of<Real>();
}
// Such an activation's two views for the kernels: Real values (null when kept in bf16) and
// bf16 bits (null otherwise).
template <class Real>
Real* real_view(Tensor& t) { return t.dtype() == DType::u16 ? nullptr : t.data<Real>(); }
template <class Real>
const Real* real_view(const Tensor& t) { return t.dtype() == DType::u16 ? nullptr : t.data<Real>(); }
inline uint16_t* bf16_view(Tensor& t) { return t.dtype() == DType::u16 ? t.data<uint16_t>() : nullptr; }
inline const uint16_t* bf16_view(const Tensor& t) { return t.dtype() == DType::u16 ? t.data<uint16_t>() : nullptr; }

template <class Real>
class Linear {
 public:
  Linear() = default;
  // A whole (unsharded) layer. std: initial weight standard deviation.
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed);
  // This rank's (out, in) block of a layer whose weight is weight_sharding.global_shape.
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed,
         const Sharding& weight_sharding, const Sharding& bias_sharding);

  // out (N, out) = inp (N, in) W^T (+ b when add_bias); inp Real, or bf16 (u16) under bf16
  void forward(Tensor& out, const Tensor& inp, bool add_bias = true) const;
  void add_bias(Tensor& out) const;
  // dinp `=` (skipped when null); dweight `+=`; dbias `+=` unless bias_grad is false (the
  // caller computed it, as the MLP does with its GELU's derivative).
  void backward(Tensor* dinp, const Tensor& dout, const Tensor& inp, bool bias_grad = true);

  void collect(ParameterList& params);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  // W's bf16 working copy, brought up to date, under bf16 precision (float layers); null
  // otherwise, and the products round nothing ahead (fp32 stays exact, tf32 is cuBLAS's).
  const uint16_t* weight_bf16() const;
  const Bf16Copy& weight_copy() const { return *weight16_; }

  Tensor weight, dweight;  // (out, in)
  Tensor bias, dbias;      // (out), undefined without bias
  MatmulPrecision precision = MatmulPrecision::fp32;  // resolved by Model::to_device (never automatic here)

 private:
  std::shared_ptr<Bf16Copy> weight16_ = std::make_shared<Bf16Copy>();  // shared by this Linear's copies
  std::string name_;
  int64_t in_ = 0, out_ = 0;
  Sharding weight_sharding_, bias_sharding_;
};

}  // namespace alibi
