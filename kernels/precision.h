// The precision of matrix products (--matmul-precision), passed with each call that
// multiplies matrices (ops::linear_*, AttentionParams::precision) rather than held in a
// global: a model carries its run's choice (Model::to_device) and hands it to its layers.
//
//   auto: bf16 on CUDA, fp32 on the CPU (the default; Model::to_device resolves it)
//   bf16: bf16-rounded operands, fp32 accumulation: tensor cores on CUDA; on the CPU the
//         linear layers' products through oneDNN (AVX512-BF16), attention stays fp32
//   tf32: CUDA tensor cores on tf32-rounded operands, fp32 accumulation (no CPU form)
//   fp32: exact fp32 products (what the tests compare with)
//
// Double-precision models (the gradient checks) are double throughout. Plain C++17, so the
// CUDA sources include it too; the option's names are in kernels/dispatch.h.
#pragma once

namespace alibi {

enum class MatmulPrecision { automatic, bf16, tf32, fp32 };

}  // namespace alibi
