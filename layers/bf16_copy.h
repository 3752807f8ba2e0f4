// The bf16 working copy of a weight, for --matmul-precision bf16: the products read it
// instead of rounding the fp32 master weight in every call (kernels/dispatch.h's
// weight_bf16). The master stays fp32 (the optimizer updates it, checkpoints store it); the
// copy is remade lazily, on the first product after the master's storage version changed
// (runtime/tensor.h): once per optimizer step however many micro-batches accumulate, and
// after anything else that writes weights (a checkpoint read, the ZeRO-1 gather, to_device,
// copy_from), since each of those bumps the version.
//
//   Bf16Copy copy;
//   const uint16_t* w16 = copy.of(weight);   // converted now, or the copy made earlier
//   adam.step(lr, wd);                       // bumps weight's version
//   w16 = copy.of(weight);                   // converted again
//
// A writer that does not bump the version leaves the products on stale weights: write
// weights through copy_from, or call bump_version() after writing through data<float>().
#pragma once

#include <cstdint>

#include "runtime/tensor.h"

namespace alibi {

class Bf16Copy {
 public:
  // The copy of `master` (float, on any device; the copy lives beside it), remade when its
  // storage version differs from the one the copy was made from, or its size or device.
  const uint16_t* of(const Tensor& master);
  // Conversions so far (tests and benchmarks count them: one per weight change).
  int64_t refreshes() const { return refreshes_; }
  const Tensor& bits() const { return bits_; }  // (master's shape) u16; undefined before of()

 private:
  Tensor bits_;
  uint64_t version_ = 0;  // master's version when bits_ was made; 0: never
  int64_t refreshes_ = 0;
};

}  // namespace alibi
