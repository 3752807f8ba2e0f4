// A host emulator of the CUDA subset our kernels use, so that CI (no GPU) runs their
// arithmetic: tests/emu/transform.py turns kernels/cuda/attention.cu, rows.cu,
// elementwise.cu and matmul.cu's bias kernels (with the kernels/cuda/common.cuh they
// include) into host C++ that includes this header first (tests/emu/emulated_*.cpp are those
// translation units; include it nowhere else).
//
// How it runs a launch: blocks one after another; inside a block, one ucontext fiber per
// CUDA thread, scheduled cooperatively on the calling OS thread. A fiber runs until it
// reaches a synchronisation point (__syncthreads, a warp collective), where it yields.
// Blocks may be 1-, 2- or 3-D (whole warps in all); warps are formed from the linear
// thread index x + y dim.x + z dim.x dim.y, as on the device.
//   __syncthreads       a barrier over all threads of the block
//   warp collectives    __shfl_sync, __shfl_xor_sync, ldmatrix.x4 (.trans), mma.m16n8k16:
//                       each lane deposits its operands; the last lane of the warp to arrive
//                       computes every lane's result, per the PTX ISA fragment tables
//   cp.async            lands at issue or at the cp.async.wait_group retiring its group
//                       (set_cp_async_landing), zero-fill when the source is outside
//   mma                 bf16 products summed in fp32 in k order (the hardware's order and
//                       rounding inside one mma are unspecified: results agree to fp32
//                       rounding, not bit for bit)
//   ex2.approx.ftz      exp2f, results below 2^-126 flushed to 0
//   atomicAdd           a plain add (fibers never interleave inside one)
// Checked, with an abort naming the problem: a deadlock (a barrier or collective some
// threads never reach), lanes of one warp in different collectives, shuffles with a
// partial mask, ldmatrix rows and cp.async destinations misaligned or outside the dynamic
// shared memory, writes past its end, a thread exiting with cp.async copies in flight.
// Dynamic shared memory starts as 0xFF bytes (NaN as float, double and bf16), so a read of a
// never-written element shows up in the results. Static __shared__ arrays become
// function-local statics (one copy: the blocks run one after another on one OS thread),
// refilled with 0xFF bytes by the first thread of each block to reach their declaration.
// Runtime calls: cudaMemcpyAsync and cudaMemsetAsync are memcpy and memset (all memory is
// host memory), cudaFuncSetAttribute and cudaGetLastError succeed, streams are null.
// Not emulated: the memory model beyond cp.async timing (plain shared-memory writes are
// visible at once, so a missing __syncthreads between a write and another warp's read goes
// unseen unless the schedule happens to expose it), bank conflicts, timing, occupancy,
// register limits, streams (launches run to completion in order), rsqrtf's approximation
// (1 / sqrtf here), and any CUDA or PTX feature the kernels do not use.
#pragma once

#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

// ---- CUDA keywords and types ------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(x) alignas(x)

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct __nv_bfloat16 {
  uint16_t bits;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;  // x in the low half, as on the device
};

inline float emu_bf16_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even, as __float2bfloat16_rn.
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  if (std::isnan(f)) return {0x7FC0};
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return {static_cast<uint16_t>(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 h) { return emu_bf16_to_float(h.bits); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)};
}

// ---- the scheduler ------------------------------------------------------------------------------
namespace emu {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "emu: %s\n", what);
  std::abort();
}

struct Copy {  // one cp.async of 16 bytes
  void* dst;
  const void* src;
  bool inside;  // false: zero-fill
};

struct Fiber {  // one CUDA thread
  ucontext_t ctx;
  dim3 tid;
  int linear = 0;  // x + y dim.x + z dim.x dim.y: lane linear % 32 of warp linear / 32
  bool done = false;
  std::vector<std::vector<Copy>> groups;  // committed cp.async groups, oldest first
  std::vector<Copy> open;                 // issued, not yet committed
};

constexpr int kMaxWarps = 32;
constexpr int kWords = 12;        // operand words a lane deposits for a collective
constexpr int kKindWord = 11;     // ... the last one names the collective
constexpr size_t kGuard = 64;     // bytes past the dynamic shared memory, checked after a block
constexpr unsigned char kGuardByte = 0xA5;

struct Block {
  dim3 idx, dim, grid;
  std::vector<Fiber> fibers;
  std::vector<unsigned char> shared;  // dynamic shared memory, then kGuard guard bytes
  size_t shared_bytes = 0;
  int bar_count = 0;
  long bar_gen = 0;
  int warp_count[kMaxWarps] = {};
  long warp_gen[kMaxWarps] = {};
  uint64_t in[kMaxWarps][32][kWords];  // per lane: the operands of the current collective
  uint64_t out[kMaxWarps][32][4];      // per lane: its results
  std::vector<const void*> statics;    // static __shared__ arrays filled for this block
};

inline Block* g_block = nullptr;
inline int g_cur = 0;  // the running fiber
inline ucontext_t g_main;
inline long g_progress = 0;  // bumped by every barrier arrival, collective and exit
inline bool g_late = false;  // cp.async lands at wait (true) or at issue (false)
inline std::function<void()>* g_kernel = nullptr;

inline Fiber& cur() { return g_block->fibers[g_cur]; }
inline int lane() { return cur().linear % 32; }
inline int warp() { return cur().linear / 32; }
inline void yield() { swapcontext(&cur().ctx, &g_main); }
inline unsigned char* shared_mem() { return g_block->shared.data(); }

// A static __shared__ array at its declaration: the first thread of a block to get there
// fills it with 0xFF bytes (NaN), as fresh (unspecified) shared memory.
inline void static_shared(const void* p, size_t bytes) {
  for (const void* q : g_block->statics)
    if (q == p) return;
  g_block->statics.push_back(p);
  std::memset(const_cast<void*>(p), 0xFF, bytes);
}

inline void syncthreads() {
  Block& b = *g_block;
  const long gen = b.bar_gen;
  ++g_progress;
  if (++b.bar_count == static_cast<int>(b.fibers.size())) {
    b.bar_count = 0;
    ++b.bar_gen;
    return;
  }
  while (b.bar_gen == gen) yield();
}

// Every lane deposits its operands in in[warp][lane] (and the kind in word kKindWord); the
// last to arrive runs f(in, out) for the whole warp; each lane then reads out[warp][lane].
enum Kind : uint64_t { kShflXor = 1, kShfl, kLdmatrix, kLdmatrixTrans, kMma };
template <class F>
void collective(Kind kind, F&& f) {
  Block& b = *g_block;
  const int w = warp();
  b.in[w][lane()][kKindWord] = kind;
  const long gen = b.warp_gen[w];
  ++g_progress;
  if (++b.warp_count[w] == 32) {
    for (int l = 0; l < 32; ++l)
      if (b.in[w][l][kKindWord] != kind) fail("lanes of one warp reached different collectives (divergence)");
    f(b.in[w], b.out[w]);
    b.warp_count[w] = 0;
    ++b.warp_gen[w];
    return;
  }
  while (b.warp_gen[w] == gen) yield();
}

inline void trampoline() {
  (*g_kernel)();
  Fiber& f = cur();
  if (!f.open.empty() || !f.groups.empty()) fail("a thread exits with cp.async copies in flight (no wait_group 0)");
  f.done = true;
  ++g_progress;
  swapcontext(&f.ctx, &g_main);
}

// kernel<<<grid, block, smem>>>(args) is launch(grid, block, smem, [&] { kernel(args); }).
inline void launch(dim3 grid, dim3 block, size_t smem, std::function<void()> fn) {
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads % 32 != 0 || threads > 32 * kMaxWarps)
    fail("blocks must be whole warps of at most 1024 threads");
  constexpr size_t kStack = 256 * 1024;
  static std::vector<std::unique_ptr<char[]>> stacks;  // reused by every launch
  while (stacks.size() < threads) stacks.emplace_back(new char[kStack]);
  g_kernel = &fn;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        auto b = std::make_unique<Block>();
        b->idx = dim3(x, y, z);
        b->dim = block;
        b->grid = grid;
        b->shared_bytes = smem;
        b->shared.assign(smem + kGuard, kGuardByte);
        std::memset(b->shared.data(), 0xFF, smem);
        b->fibers.resize(threads);
        for (unsigned t = 0; t < threads; ++t) {
          Fiber& f = b->fibers[t];
          f.tid = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
          f.linear = static_cast<int>(t);
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = stacks[t].get();
          f.ctx.uc_stack.ss_size = kStack;
          f.ctx.uc_link = nullptr;
          makecontext(&f.ctx, trampoline, 0);
        }
        g_block = b.get();
        for (;;) {  // round robin until every thread has returned
          bool all_done = true;
          const long before = g_progress;
          for (unsigned t = 0; t < threads; ++t) {
            if (b->fibers[t].done) continue;
            all_done = false;
            g_cur = static_cast<int>(t);
            swapcontext(&g_main, &b->fibers[t].ctx);
          }
          if (all_done) break;
          if (g_progress == before) {
            std::fprintf(stderr, "emu: block (%u, %u, %u): ", x, y, z);
            fail("deadlock: threads wait at a barrier or collective others never reach");
          }
        }
        for (size_t i = smem; i < smem + kGuard; ++i)
          if (b->shared[i] != kGuardByte) fail("a kernel wrote past the end of its dynamic shared memory");
        g_block = nullptr;
      }
}

template <class T>
uint64_t bits(T v) {
  static_assert(sizeof(T) <= 8);
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
T from_bits(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

inline bool in_shared(const void* p, size_t bytes) {
  const auto* s = g_block->shared.data();
  const auto* c = static_cast<const unsigned char*>(p);
  return c >= s && c + bytes <= s + g_block->shared_bytes;
}

}  // namespace emu

// ---- built-in variables and intrinsics --------------------------------------------------------
#define threadIdx (emu::cur().tid)
#define blockIdx (emu::g_block->idx)
#define blockDim (emu::g_block->dim)
#define gridDim (emu::g_block->grid)
#define __syncthreads() emu::syncthreads()

template <class T>
T __ldg(const T* p) {
  return *p;
}

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  if (mask != 0xffffffffu) emu::fail("__shfl_xor_sync with a partial mask");
  emu::g_block->in[emu::warp()][emu::lane()][0] = emu::bits(v);
  emu::collective(emu::kShflXor, [lane_mask](uint64_t(*in)[emu::kWords], uint64_t(*out)[4]) {
    for (int l = 0; l < 32; ++l) out[l][0] = in[(l ^ lane_mask) & 31][0];
  });
  return emu::from_bits<T>(emu::g_block->out[emu::warp()][emu::lane()][0]);
}

template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane) {
  if (mask != 0xffffffffu) emu::fail("__shfl_sync with a partial mask");
  auto& in = emu::g_block->in[emu::warp()][emu::lane()];
  in[0] = emu::bits(v);
  in[1] = static_cast<uint64_t>(src_lane & 31);
  emu::collective(emu::kShfl, [](uint64_t(*in)[emu::kWords], uint64_t(*out)[4]) {
    for (int l = 0; l < 32; ++l) out[l][0] = in[in[l][1]][0];
  });
  return emu::from_bits<T>(emu::g_block->out[emu::warp()][emu::lane()][0]);
}

inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }  // the device's is approximate (2 ulp)

// ---- the CUDA runtime calls the kernels' host code makes ----------------------------------------
// Every pointer is a host pointer here, so copies are memcpy whatever their kind.
using cudaStream_t = void*;
enum cudaError_t { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
inline const char* cudaGetErrorString(cudaError_t) { return "no error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  if (bytes) std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}
template <class F>  // no shared-memory limit here
cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) {
  return cudaSuccess;
}

// ---- what kernels/cuda/common.cuh needs beside its own code -------------------------------------
// The transform inlines common.cuh (its checks, blocks_for, warp and block reductions) into
// every emulated source, except its stream(), which would create a real CUDA stream.
namespace alibi::cuda_emu {

inline cudaStream_t stream() { return nullptr; }
// CUDA's min and max of mixed integer types.
template <class A, class B>
auto min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(a) : static_cast<C>(b);
}
template <class A, class B>
auto max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// ---- the PTX wrappers of kernels/cuda/attention_tiles.cuh ---------------------------------------
// The transform drops their definitions there; these take their place, with the same
// signatures.

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lanes 8m .. 8m+7 give the row addresses
// of matrix m; lane l receives in register m the elements (l/4, 2(l%4)) and (l/4, 2(l%4)+1)
// of matrix m, or with .trans those of its transpose.
inline void emu_ldmatrix(uint32_t (&r)[4], const __nv_bfloat16* p, bool trans) {
  if (reinterpret_cast<uintptr_t>(p) % 16) emu::fail("ldmatrix row address not 16-byte aligned");
  if (!emu::in_shared(p, 16)) emu::fail("ldmatrix row outside the dynamic shared memory");
  emu::g_block->in[emu::warp()][emu::lane()][0] = reinterpret_cast<uint64_t>(p);
  emu::collective(trans ? emu::kLdmatrixTrans : emu::kLdmatrix,
                  [trans](uint64_t(*in)[emu::kWords], uint64_t(*out)[4]) {
                    auto row = [&](int i) { return reinterpret_cast<const uint16_t*>(in[i][0]); };
                    for (int l = 0; l < 32; ++l)
                      for (int m = 0; m < 4; ++m) {
                        uint16_t lo, hi;
                        if (!trans) {
                          lo = row(m * 8 + l / 4)[2 * (l % 4)];
                          hi = row(m * 8 + l / 4)[2 * (l % 4) + 1];
                        } else {
                          lo = row(m * 8 + 2 * (l % 4))[l / 4];
                          hi = row(m * 8 + 2 * (l % 4) + 1)[l / 4];
                        }
                        out[l][m] = lo | static_cast<uint32_t>(hi) << 16;
                      }
                  });
  for (int m = 0; m < 4; ++m) r[m] = static_cast<uint32_t>(emu::g_block->out[emu::warp()][emu::lane()][m]);
}
inline void ldmatrix_x4(uint32_t (&r)[4], const __nv_bfloat16* p) { emu_ldmatrix(r, p, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const __nv_bfloat16* p) { emu_ldmatrix(r, p, true); }

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, d += a b. Lane l = 4g + c holds
//   A: a[0] = (g, 2c..2c+1), a[1] = (g+8, 2c..), a[2] = (g, 8+2c..), a[3] = (g+8, 8+2c..)
//   B: b0 = (k 2c..2c+1, n g), b1 = (k 8+2c.., n g)
//   C, D: [0], [1] = (g, 2c), (g, 2c+1); [2], [3] = (g+8, 2c), (g+8, 2c+1)
// (the low half of a register is the lower column or k index).
inline void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  auto& in = emu::g_block->in[emu::warp()][emu::lane()];
  for (int i = 0; i < 4; ++i) in[i] = a[i];
  in[4] = b0;
  in[5] = b1;
  for (int i = 0; i < 4; ++i) in[6 + i] = emu::bits(d[i]);
  emu::collective(emu::kMma, [](uint64_t(*in)[emu::kWords], uint64_t(*out)[4]) {
    float A[16][16], B[16][8], C[16][8];
    auto lo = [](uint64_t w) { return emu_bf16_to_float(static_cast<uint16_t>(w)); };
    auto hi = [](uint64_t w) { return emu_bf16_to_float(static_cast<uint16_t>(w >> 16)); };
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, c = l % 4;
      for (int half = 0; half < 2; ++half) {  // rows g, g+8 of A; k 2c.., 8+2c.. of B
        A[g + 8 * half][2 * c] = lo(in[l][half]);
        A[g + 8 * half][2 * c + 1] = hi(in[l][half]);
        A[g + 8 * half][2 * c + 8] = lo(in[l][2 + half]);
        A[g + 8 * half][2 * c + 9] = hi(in[l][2 + half]);
        B[2 * c + 8 * half][g] = lo(in[l][4 + half]);
        B[2 * c + 8 * half + 1][g] = hi(in[l][4 + half]);
        C[g + 8 * half][2 * c] = emu::from_bits<float>(in[l][6 + 2 * half]);
        C[g + 8 * half][2 * c + 1] = emu::from_bits<float>(in[l][7 + 2 * half]);
      }
    }
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, c = l % 4;
      for (int e = 0; e < 4; ++e) {
        const int i = g + 8 * (e / 2), j = 2 * c + e % 2;
        float s = C[i][j];
        for (int k = 0; k < 16; ++k) s += A[i][k] * B[k][j];
        out[l][e] = emu::bits(s);
      }
    }
  });
  for (int i = 0; i < 4; ++i) d[i] = emu::from_bits<float>(emu::g_block->out[emu::warp()][emu::lane()][i]);
}

inline void emu_land(const emu::Copy& c) {
  if (c.inside)
    std::memcpy(c.dst, c.src, 16);
  else
    std::memset(c.dst, 0, 16);
}
// cp.async.cg.shared.global [dst], [src], 16, inside ? 16 : 0.
inline void cp_async_16(__nv_bfloat16* dst, const __nv_bfloat16* src, bool inside) {
  if (reinterpret_cast<uintptr_t>(dst) % 16 || !emu::in_shared(dst, 16))
    emu::fail("cp.async destination misaligned or outside the dynamic shared memory");
  const emu::Copy c{dst, src, inside};
  if (emu::g_late)
    emu::cur().open.push_back(c);
  else
    emu_land(c);
}
inline void cp_async_commit() {
  emu::cur().groups.push_back(std::move(emu::cur().open));
  emu::cur().open.clear();
}
template <int kPending>  // cp.async.wait_group kPending
void cp_async_wait() {
  auto& groups = emu::cur().groups;
  while (static_cast<int>(groups.size()) > kPending) {
    for (const emu::Copy& c : groups.front()) emu_land(c);
    groups.erase(groups.begin());
  }
}

// ex2.approx.ftz.f32
inline float fast_exp2(float x) {
  const float y = exp2f(x);
  return y < 1.17549435e-38f ? 0.0f : y;
}

}  // namespace alibi::cuda_emu
