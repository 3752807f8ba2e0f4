// Linear: y = x W^T + b, W stored (out, in) as in the checkpoint format. Tensor-parallel
// layers use it for their local block: column-parallel (W's rows split, bias split) or
// row-parallel (W's columns split, bias replicated and added once after the reduction).
//
// Under --matmul-precision bf16 the products read W's bf16 working copy (layers/bf16_copy.h),
// remade once per weight change. Copies of a Linear (the model's per-micro-batch slots and
// its decoder copy the blocks) share W, and share its working copy too.
#pragma once

#include <memory>
#include <string>

#include "kernels/precision.h"
#include "layers/bf16_copy.h"
#include "layers/parameters.h"

namespace alibi {

template <class Real>
class Linear {
 public:
  Linear() = default;
  // A whole (unsharded) layer. std: initial weight standard deviation.
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed);
  // This rank's (out, in) block of a layer whose weight is weight_sharding.global_shape.
  Linear(const std::string& name, int64_t in, int64_t out, bool bias, double std, uint64_t seed,
         const Sharding& weight_sharding, const Sharding& bias_sharding);

  // out (N, out) = inp (N, in) W^T (+ b when add_bias)
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
