// Activation recomputation (Megatron's --recompute-granularity): what a block keeps from
// its forward for backward, and what backward computes again. The gradients are the same
// bits either way on the CPU: backward reruns the same kernels on the same inputs.
//
//   none       every block keeps its activations (LayerNorm outputs, qkv, the attention
//              output and its log-sum-exp, the MLP's hidden layer)
//   selective  the attention core (scores, softmax, weighted values: the attention kernel)
//              is run again in backward from the kept qkv; its output and log-sum-exp are
//              not kept. The blocked kernel never stores scores, so this saves (B T, C) and
//              (B, NH, T) per block, not Megatron's T x T.
//   full       each block keeps only its input (the residual stream, which the model holds
//              anyway) and reruns its forward in backward, up to the MLP's hidden layer.
#pragma once

#include <array>
#include <utility>

#include "runtime/enum_names.h"

namespace alibi {

enum class Recompute { none, selective, full };

template <>
struct EnumNames<Recompute> {
  static constexpr const char* option = "--recompute";
  static constexpr std::array<std::pair<Recompute, const char*>, 3> values{
      {{Recompute::none, "none"}, {Recompute::selective, "selective"}, {Recompute::full, "full"}}};
};

}  // namespace alibi
