// The translation unit of the emulated kernels/cuda/bias_gelu.cu: the emulator, then
// the source as tests/emu/transform.py (bias_gelu) rewrote it for the host (generated into the
// build directory; its #line marks point compiler errors at the kernel sources).
#include "tests/emu/emulated_kernels.h"
#include "tests/emu/emu.h"
#include "bias_gelu_emu.inc"
