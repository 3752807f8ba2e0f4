// Parameters by name. Every trainable tensor has a dotted name ("blocks.0.attn.qkv.weight")
// used for initialisation (the RNG is keyed by it), checkpoints (/model/<name>) and
// weight-decay grouping. Layers own their tensors and append references here, in the
// order the model declares them, so the list is stable across runs and layouts.
//
// Under tensor parallelism a rank holds a block of the global tensor; `Sharding` says
// which, so initialisation, checkpoints and gradient gathering all address the same
// global elements whatever the layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace alibi {

enum class Init { zeros, ones, normal };

// Where this rank's block sits in the global tensor (at most 2-D).
struct Sharding {
  Shape global_shape;            // the whole tensor, as laid out in memory
  std::vector<int64_t> offset;   // first global index of the block along each dimension
  bool replicated = true;        // every TP rank holds the whole tensor (LayerNorm, row bias)

  static Sharding whole(const Shape& shape) { return {shape, std::vector<int64_t>(shape.size(), 0), true}; }
  static Sharding rows(const Shape& global, int64_t row0) { return {global, {row0, 0}, false}; }
  static Sharding cols(const Shape& global, int64_t col0) { return {global, {0, col0}, false}; }
  static Sharding range(int64_t n, int64_t first) { return {{n}, {first}, false}; }
};

// How checkpoints store a parameter, and where this rank's block sits in it.
struct StoredBlock {
  Shape shape;                  // the whole tensor as stored, e.g. (NH, 3, HS, C)
  std::vector<int64_t> offset;  // the block's first index along each stored dimension
  Shape count;                  // the block's extent in stored dimensions
};

struct ParamRef {
  std::string name;
  Tensor* value;  // this rank's block of the weights
  Tensor* grad;   // same shape; accumulated (+=) by backward, zeroed by the trainer
  bool decay;     // AdamW weight decay applies (matrices yes; LayerNorm and biases no)
  Sharding sharding;
  // The last pipeline stage's copy of the tied embedding: kept equal to the first
  // stage's, never counted twice (grad norm) or written twice (checkpoints).
  bool tied_copy = false;
  // Set by a layer whose stored layout is not its memory layout (the attention's fused
  // QKV, stored head-major); otherwise the global tensor is stored as laid out in memory.
  std::optional<StoredBlock> stored_as = std::nullopt;

  StoredBlock stored() const {
    return stored_as ? *stored_as : StoredBlock{sharding.global_shape, sharding.offset, value->shape()};
  }
  // Whether this rank's block counts once among all ranks' (global sums, the one writer of
  // a checkpoint): DP rank 0 (replicas hold equal values), TP rank 0 for tensors every TP
  // rank holds whole, and never the tied copy.
  bool counted_here(int tp_rank, int dp_rank) const {
    return dp_rank == 0 && !tied_copy && (!sharding.replicated || tp_rank == 0);
  }
};

using ParameterList = std::vector<ParamRef>;

// Allocates value and grad of `shape` (this rank's block) and fills value by `init`. For
// Init::normal the element with global flat index i (in sharding.global_shape) is
// std * N(0,1) drawn from rng_key(seed, name) at counter i, so any shard of the same
// global tensor gets exactly its slice.
template <class Real>
void make_parameter(Tensor& value, Tensor& grad, const std::string& name, const Shape& shape,
                    const Sharding& sharding, Init init, double std, uint64_t seed);

// Sets every gradient in the list to zero.
void zero_grads(const ParameterList& params);

}  // namespace alibi
