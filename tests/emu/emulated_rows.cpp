// The translation unit of the emulated kernels/cuda/rows.cu: the emulator, then
// the source as tests/emu/transform.py (rows) rewrote it for the host (generated into the
// build directory; its #line marks point compiler errors at the kernel sources).
#include "tests/emu/emulated_kernels.h"
#include "tests/emu/emu.h"
#include "rows_emu.inc"
