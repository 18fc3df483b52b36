#pragma once
// The single dispatch point between layers and backends (DESIGN principle 1).
// Layers call ops::xxx(ctx, ...); it routes to cpu::xxx (layers/*_cpu.cpp)
// or cuda::xxx (layers/*_cuda.cpp) by ctx.device().
#include <cstddef>

#include "engine/context.h"
#include "engine/tensor.h"

namespace cnne {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
};

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
};

// Output size of a convolution or pooling window along one axis (floor mode).
inline int64_t window_output_size(int64_t in, int64_t kernel, int stride, int pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

struct SgdHyper {
  float lr = 0.001f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

namespace ops {
#include "engine/op_signatures.inc"
}  // namespace ops

namespace cpu {
#include "engine/op_signatures.inc"
}  // namespace cpu

#ifdef CNNE_WITH_CUDA
namespace cuda {
#include "engine/op_signatures.inc"
}  // namespace cuda
#endif

}  // namespace cnne
