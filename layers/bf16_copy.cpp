// A weight's bf16 working copy, remade when the weight's storage version moves.
#include "layers/bf16_copy.h"

#include "kernels/dispatch.h"

namespace alibi {

const uint16_t* Bf16Copy::of(const Tensor& master) {
  const bool fits = bits_.defined() && bits_.numel() == master.numel() && bits_.device() == master.device();
  if (fits && version_ == master.version()) return bits_.data<uint16_t>();
  if (!fits) bits_ = Tensor::empty(master.shape(), DType::u16, master.device());
  ops::to_bf16(master.device(), bits_.data<uint16_t>(), master.data<float>(), master.numel());
  version_ = master.version();
  ++refreshes_;
  return bits_.data<uint16_t>();
}

}  // namespace alibi
