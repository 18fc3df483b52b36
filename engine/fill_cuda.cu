// fill on the GPU.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

__global__ void fill_kernel(float* p, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = value;
}

}  // namespace

void fill(Context& ctx, const Tensor& t, float value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(t.f32(), n, value);
  CNNE_CHECK_LAUNCH("fill " + t.shape.str());
}

}  // namespace cnne::cuda
