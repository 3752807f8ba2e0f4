// The translation unit of the emulated kernels/cuda/bf16.cu: the emulator, then the source
// as tests/emu/transform.py (bf16) rewrote it for the host (generated into the build
// directory; its #line marks point compiler errors at the kernel source).
#include "tests/emu/emulated_kernels.h"
#include "tests/emu/emu.h"
#include "bf16_emu.inc"
