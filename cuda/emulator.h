#pragma once
// The CUDA device API on CPU threads, so that our own kernels (not cuDNN's or
// cuBLAS's) run in the CPU tests, on any machine, against the CPU reference.
//
// Note [kernel emulation]: a kernel header (layers/*_kernels.cuh,
// engine/*_kernel.cuh) compiled by the host compiler with
// CNNE_EMULATED_KERNELS defined sees this file instead of the CUDA headers
// (cuda/device_api.cuh). launch() then runs the kernel with one OS thread per
// CUDA thread of a block, the blocks one after another; launch_cooperative()
// runs every thread of the grid at once, as cudaLaunchCooperativeKernel
// keeps every block resident. What it checks that a sequential host loop
// cannot:
//   - __syncthreads() is a real barrier; threads that reach different
//     __syncthreads() calls in the same phase (divergent barriers, undefined
//     on a GPU) are an error, naming both source lines;
//   - __shfl_down_sync() exchanges values within a warp of 32 and is an error
//     when a lane of the mask does not take part (it returned early);
//   - grid.sync() of a cooperative kernel is a barrier over the whole grid;
//   - the threads really run at once, so a missing barrier shows up as wrong
//     or varying results, and ThreadSanitizer (tools/sanitize.sh --thread)
//     or AddressSanitizer see the kernels' memory accesses.
// What it cannot show: the GPU's memory model (x86 orders more), timing,
// occupancy, and anything of cuDNN or cuBLAS. Static __shared__ arrays are
// shared by the threads of the running block, so a cooperative kernel (all
// blocks at once) must not use them: that is reported as an error.
// Under emulation `__half` and `__nv_bfloat16` hold the bits, converted by
// engine/half.h, which rounds as the GPU's __float2half_rn does.
#if defined(__CUDACC__)
#error "cuda/emulator.h is for host compilers; nvcc builds kernels with the real device API"
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <source_location>
#include <tuple>
#include <type_traits>

#include "engine/half.h"

namespace cnne_emu {

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running CUDA thread's coordinates (one OS thread each). A function,
// not an extern thread_local variable: GCC 12's UBSan reads the latter's
// TLS wrapper as a null pointer.
struct Coordinates {
  uint3 thread, block;
  dim3 block_dim, grid_dim;
};
Coordinates& coordinates();

// What the device functions below do; `site` is the caller's source line.
using Site = std::source_location;
void sync_block(const Site& site);
void sync_grid(const Site& site);
uint64_t shuffle_down_bits(const Site& site, unsigned mask, uint64_t bits, unsigned delta);
void shared_memory_declared(const Site& site);

// Runs body once per thread of the grid (see the Note); throws cnne::Error
// with every problem the threads met (the first few), after all have ended.
void run_grid(dim3 grid, dim3 block, bool cooperative, const std::function<void()>& body);

// kernel<<<grid, block>>>(args...): the blocks in order, each block's threads at once.
template <class... P, class... A>
void launch(dim3 grid, dim3 block, void (*kernel)(P...), A&&... args) {
  const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  run_grid(grid, block, false, [&] { std::apply(kernel, params); });
}

// cudaLaunchCooperativeKernel: every thread of the grid at once.
template <class... P, class... A>
void launch_cooperative(dim3 grid, dim3 block, void (*kernel)(P...), A&&... args) {
  const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  run_grid(grid, block, true, [&] { std::apply(kernel, params); });
}

}  // namespace cnne_emu

// The names kernels use.
using cnne_emu::dim3;
using cnne_emu::uint3;
using std::isfinite;  // CUDA's math functions are global
using std::max;
using std::min;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// A statement: `__shared__ double s[8];` checks that the launch runs its
// blocks one at a time (not cooperative), then declares a static array.
#define __shared__                                                     \
  ::cnne_emu::shared_memory_declared(std::source_location::current()); \
  static
#define threadIdx (::cnne_emu::coordinates().thread)
#define blockIdx (::cnne_emu::coordinates().block)
#define blockDim (::cnne_emu::coordinates().block_dim)
#define gridDim (::cnne_emu::coordinates().grid_dim)

inline void __syncthreads(const cnne_emu::Site& site = cnne_emu::Site::current()) {
  cnne_emu::sync_block(site);
}

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta,
                   const cnne_emu::Site& site = cnne_emu::Site::current()) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles take 8 bytes at most");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = cnne_emu::shuffle_down_bits(site, mask, bits, delta);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

template <class T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}

// Round-to-nearest float arithmetic: the host's, built without contraction.
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline float __fsqrt_rn(float a) {
  return __builtin_sqrtf(a);
}
// a * b + c rounded once, as the GPU's fused multiply-add.
inline float __fmaf_rn(float a, float b, float c) {
  return __builtin_fmaf(a, b, c);
}

struct __nv_bfloat16 {
  uint16_t bits;
};
struct __half {
  uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 v) {
  return cnne::bf16_to_float(v.bits);
}
inline __nv_bfloat16 __float2bfloat16_rn(float v) {
  return {cnne::float_to_bf16(v)};
}
inline float __half2float(__half v) {
  return cnne::f16_to_float(v.bits);
}
inline __half __float2half_rn(float v) {
  return {cnne::float_to_f16(v)};
}

namespace cooperative_groups {
struct grid_group {
  void sync(const cnne_emu::Site& site = cnne_emu::Site::current()) const {
    cnne_emu::sync_grid(site);
  }
};
inline grid_group this_grid() {
  return {};
}
}  // namespace cooperative_groups
