// Global average pooling on the GPU: one warp per (n, c) plane, the plane
// summed in a fixed order (deterministic).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

__global__ void global_avgpool_kernel(const float* x, float* y, int64_t planes, int64_t area) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (plane >= planes) return;
  const float* xp = x + plane * area;
  double sum = 0;
  for (int64_t i = lane; i < area; i += 32) sum += xp[i];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
  if (lane == 0) y[plane] = static_cast<float>(sum / static_cast<double>(area));
}

__global__ void global_avgpool_backward_kernel(const float* dy, float* dx, int64_t planes,
                                               int64_t area) {
  const float divisor = static_cast<float>(area);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = __fdiv_rn(dy[i / area], divisor);  // the CPU's dy / area, rounded the same
}

}  // namespace

void global_avgpool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], area = x.shape[2] * x.shape[3];
  const int64_t warps_per_block = kThreads / 32;
  const auto blocks = static_cast<unsigned>((planes + warps_per_block - 1) / warps_per_block);
  global_avgpool_kernel<<<blocks, kThreads, 0, ctx.cuda().stream()>>>(x.f32(), y.f32(), planes,
                                                                      area);
  CNNE_CHECK_LAUNCH("global_avgpool " + x.shape.str());
}

void global_avgpool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], area = dx.shape[2] * dx.shape[3];
  global_avgpool_backward_kernel<<<blocks_for(planes * area), kThreads, 0, ctx.cuda().stream()>>>(
      dy.f32(), dx.f32(), planes, area);
  CNNE_CHECK_LAUNCH("global_avgpool backward " + dx.shape.str());
}

}  // namespace cnne::cuda
