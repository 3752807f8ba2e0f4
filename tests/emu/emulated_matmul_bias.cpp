// The translation unit of the emulated bias kernels of kernels/cuda/matmul.cu (add_bias_kernel,
// bias_grad_kernel and their launches): the emulator, then
// the source as tests/emu/transform.py (matmul_bias) rewrote it for the host (generated into the
// build directory; its #line marks point compiler errors at the kernel sources).
#include "tests/emu/emulated_kernels.h"
#include "tests/emu/emu.h"
#include "matmul_bias_emu.inc"
