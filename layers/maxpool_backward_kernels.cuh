#pragma once
// Max pooling backward's kernel, launched by layers/maxpool_backward_cuda.cu
// and run on CPU threads by the emulated-kernel tests (Note [kernel
// emulation] in cuda/emulator.h); the unnamed namespace gives each file that
// includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/pool_windows.h"

namespace cnne::cuda {
namespace {

struct PoolGeometry {
  int h, w, p, q;  // input (H, W), output (P, Q) of one plane
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

// The index (into one plane) of window (op, oq)'s first maximum, or -1 when
// the window holds no input element.
template <class T>
__device__ int window_argmax(const T* plane, const PoolGeometry& g, int op, int oq) {
  int best = -1;
  float best_value = 0.0f;
  for (int r = 0; r < g.kernel_h; ++r) {
    const int ih = op * g.stride_h - g.pad_h + r;
    if (ih < 0 || ih >= g.h) continue;
    for (int s = 0; s < g.kernel_w; ++s) {
      const int iw = oq * g.stride_w - g.pad_w + s;
      if (iw < 0 || iw >= g.w) continue;
      const float v = to_float(plane[ih * g.w + iw]);
      if (best < 0 || v > best_value || v != v) {
        best = ih * g.w + iw;
        best_value = v;
      }
    }
  }
  return best;
}

template <class T>
__global__ void maxpool_backward_kernel(const T* x,   // (N, C, H, W)
                                        const T* dy,  // (N, C, P, Q)
                                        T* dx,        // (N, C, H, W)
                                        int64_t planes, PoolGeometry g) {
  const int64_t area = int64_t(g.h) * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = i / area;
    const int at = static_cast<int>(i % area);
    const int ih = at / g.w, iw = at % g.w;
    const T* xp = x + plane * area;
    const T* dyp = dy + plane * int64_t(g.p) * g.q;
    // The windows that contain (ih, iw).
    int op_first, op_last, oq_first, oq_last;
    pool_windows_containing(ih, g.kernel_h, g.stride_h, g.pad_h, g.p, &op_first, &op_last);
    pool_windows_containing(iw, g.kernel_w, g.stride_w, g.pad_w, g.q, &oq_first, &oq_last);
    float sum = 0.0f;  // in (op, oq) order, as the CPU reference adds
    for (int op = op_first; op <= op_last; ++op)
      for (int oq = oq_first; oq <= oq_last; ++oq)
        if (window_argmax(xp, g, op, oq) == at) sum = __fadd_rn(sum, to_float(dyp[op * g.q + oq]));
    dx[i] = from_float<T>(sum);
  }
}

}  // namespace
}  // namespace cnne::cuda
