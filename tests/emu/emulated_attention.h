// The CUDA attention kernels (kernels/cuda/attention.cu) run on the host by the emulator in
// tests/emu/emu.h: what tests/emu/test_attention_emu.cpp calls. Plain C++, no emulator
// macros: the kernels' translation unit is tests/emu/emulated_attention.cpp.
//
//   cuda_emu::set_cp_async_landing(cuda_emu::CpAsync::late);
//   cuda_emu::attention_forward(p);  // p's pointers on the host; p.precision picks the kernels
//
// The functions are cuda::attention_forward / attention_backward, renamed into namespace
// cuda_emu so that a build with the real CUDA backend links both.
#pragma once

#include "kernels/attention.h"
#include "kernels/cuda/ops.h"

namespace alibi::cuda_emu {

// The contract of cuda::attention_forward / attention_backward (and the size of the
// p.prepared array they keep), host pointers.
void attention_forward(const AttentionParams<float>& p);
void attention_backward(const AttentionParams<float>& p, const float* dout, float* dq, float* dk, float* dv);
int64_t attention_prepared_elements(const AttentionParams<float>& p);

// When a cp.async copy reaches shared memory: at issue (early) or only at the
// cp.async.wait_group that retires its group (late). Early exposes a tile overwritten while
// other warps still read it; late exposes a tile read before the wait.
enum class CpAsync { early, late };
void set_cp_async_landing(CpAsync when);

}  // namespace alibi::cuda_emu
