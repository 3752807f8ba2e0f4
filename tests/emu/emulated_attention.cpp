// The one translation unit of the emulated attention kernels: the emulator, then
// kernels/cuda/attention.cu as tests/emu/transform.py rewrote it for the host (generated
// into the build directory; its #line marks point compiler errors at the kernel sources).
#include "tests/emu/emulated_attention.h"
#include "tests/emu/emu.h"
#include "attention_emu.inc"

namespace alibi::cuda_emu {

void set_cp_async_landing(CpAsync when) { emu::g_late = when == CpAsync::late; }

}  // namespace alibi::cuda_emu
