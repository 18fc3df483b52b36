// Global average pooling on the GPU: one warp per (n, c) plane, the plane
// summed in a fixed order (deterministic). F32, BF16 or F16 tensors.
// Channels-last x (Note [channels last]): one thread per (n, c), consecutive
// threads on consecutive channels so that a warp's reads are coalesced.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void global_avgpool_kernel(const T* x, T* y, int64_t planes, int64_t area) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (plane >= planes) return;
  const T* xp = x + plane * area;
  double sum = 0;
  for (int64_t i = lane; i < area; i += 32) sum += to_float(xp[i]);
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
  if (lane == 0) y[plane] = from_float<T>(static_cast<float>(sum / static_cast<double>(area)));
}

template <class T>
__global__ void global_avgpool_backward_kernel(const T* dy, T* dx, int64_t planes, int64_t area) {
  const float divisor = static_cast<float>(area);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = from_float<T>(__fdiv_rn(to_float(dy[i / area]), divisor));  // the CPU's dy / area
}

// Channels-last forward: thread p = n*C + c sums its plane's values (stride C)
// in order, in double, and rounds as global_avgpool_kernel does.
template <class T>
__global__ void global_avgpool_nhwc_kernel(const T* x,  // (N, H, W, C)
                                           T* y,        // (N, C, 1, 1)
                                           int64_t planes, int64_t channels, int64_t area) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (plane >= planes) return;
  const int64_t n = plane / channels, c = plane - n * channels;
  const T* xp = x + n * area * channels + c;
  double sum = 0;
  for (int64_t i = 0; i < area; ++i) sum += to_float(xp[i * channels]);
  y[plane] = from_float<T>(static_cast<float>(sum / static_cast<double>(area)));
}

// Channels-last backward: dx[i] (NHWC) = dy[n, c] / area.
template <class T>
__global__ void global_avgpool_backward_nhwc_kernel(const T* dy,  // (N, C, 1, 1)
                                                    T* dx,        // (N, H, W, C)
                                                    int64_t planes, int64_t channels,
                                                    int64_t area) {
  const float divisor = static_cast<float>(area);
  const int64_t image = area * channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / image, c = i % channels;
    dx[i] = from_float<T>(__fdiv_rn(to_float(dy[n * channels + c]), divisor));
  }
}

}  // namespace

void global_avgpool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], area = x.shape[2] * x.shape[3];
  const int64_t warps_per_block = kThreads / 32;
  const auto blocks = static_cast<unsigned>((planes + warps_per_block - 1) / warps_per_block);
  const std::string what = "global_avgpool " + x.shape.str();
  if (x.dtype != y.dtype) throw Error(what + ": x and y dtypes differ");
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (x.channels_last) {
      global_avgpool_nhwc_kernel<T>
          <<<static_cast<unsigned>((planes + kThreads - 1) / kThreads), kThreads, 0,
             ctx.cuda().stream()>>>(elements<T>(x), elements<T>(y), planes, x.shape[1], area);
      return;
    }
    global_avgpool_kernel<T><<<blocks, kThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(x), elements<T>(y), planes, area);
  });
  CNNE_CHECK_LAUNCH(what);
}

void global_avgpool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], area = dx.shape[2] * dx.shape[3];
  const std::string what = "global_avgpool backward " + dx.shape.str();
  if (dx.dtype != dy.dtype) throw Error(what + ": dy and dx dtypes differ");
  with_float_type(dx.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (dx.channels_last) {
      global_avgpool_backward_nhwc_kernel<T>
          <<<blocks_for(planes * area), kThreads, 0, ctx.cuda().stream()>>>(
              elements<T>(dy), elements<T>(dx), planes, dx.shape[1], area);
      return;
    }
    global_avgpool_backward_kernel<T>
        <<<blocks_for(planes * area), kThreads, 0, ctx.cuda().stream()>>>(
            elements<T>(dy), elements<T>(dx), planes, area);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
