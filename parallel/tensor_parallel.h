// Tensor parallelism's communication, in Megatron's conjugate pairs. A column-parallel
// linear Y_i = X A_i (A split along its columns, A = [A_1 .. A_p]) needs its input X on
// every rank: `copy_to_tp` is the identity forward and an all-reduce of dX backward. A
// row-parallel linear Y = sum_i X_i A_i (A split along its rows) produces partial sums:
// `reduce_from_tp` all-reduces them forward and is the identity backward. The layers call
// the non-identity halves where they occur, so every collective is visible in the layer.
#pragma once

#include "parallel/comm.h"
#include "runtime/tensor.h"

namespace alibi {

// reduce_from_tp, forward: y = sum over TP ranks of the partial y_i (in place).
inline void reduce_from_tp_forward(const Communicator& tp, Tensor& y) {
  tp.all_reduce_sum(y.raw(), y.numel(), y.dtype());
}

// copy_to_tp, backward: dX = sum over TP ranks of each rank's dX_i (in place).
inline void copy_to_tp_backward(const Communicator& tp, Tensor& dx) {
  tp.all_reduce_sum(dx.raw(), dx.numel(), dx.dtype());
}

}  // namespace alibi
