// Parameters by name. Every trainable tensor has a dotted name ("blocks.0.attn.qkv.weight")
// used for initialisation (the RNG is keyed by it), checkpoints (/model/<name>) and
// weight-decay grouping. Layers own their tensors and append references here, in the
// order the model declares them, so the list is stable across runs and layouts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace alibi {

enum class Init { zeros, ones, normal };

struct ParamRef {
  std::string name;
  Tensor* value;  // the weights
  Tensor* grad;   // same shape; accumulated (+=) by backward, zeroed by the trainer
  bool decay;     // AdamW weight decay applies (matrices yes; LayerNorm and biases no)
};

using ParameterList = std::vector<ParamRef>;

// Allocates value and grad of `shape` and fills value by `init`. For Init::normal the
// element with global flat index i is std * N(0,1) drawn from rng_key(seed, name) at
// counter i, so any shard of the same global tensor gets exactly its slice.
template <class Real>
void make_parameter(Tensor& value, Tensor& grad, const std::string& name, const Shape& shape,
                    Init init, double std, uint64_t seed);

// Sets every gradient in the list to zero.
void zero_grads(const ParameterList& params);

}  // namespace alibi
