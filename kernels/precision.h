// The precision of matrix products on CUDA (--matmul-precision), passed with each call that
// multiplies matrices (ops::linear_*, AttentionParams::precision) rather than held in a
// global: a model carries its run's choice (Model::to_device) and hands it to its layers.
//
//   bf16: tensor cores on bf16-rounded operands, fp32 accumulation (the default)
//   tf32: tensor cores on tf32-rounded operands, fp32 accumulation
//   fp32: exact fp32 products (what the tests compare with the CPU)
//
// The CPU ignores it: its products are fp32 (or double) throughout. Plain C++17, so the
// CUDA sources include it too; the option's names are in kernels/dispatch.h.
#pragma once

namespace alibi {

enum class MatmulPrecision { bf16, tf32, fp32 };

}  // namespace alibi
