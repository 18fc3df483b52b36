// Max and average pooling on the GPU through cuDNN pooling descriptors
// (max; average counting the padding, PyTorch's default). Max pooling's
// backward is our own gather kernel (maxpool_backward_cuda.cu): the first
// maximum of a window takes its gradient, as on the CPU and in PyTorch.
#include <string>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

const float kOne = 1.0f, kZero = 0.0f;

PoolPlan& pool_plan(Context& ctx, cudnnPoolingMode_t mode, const Pool2dParams& p, const Shape& x,
                    DType dtype) {
  CudaContext& cu = ctx.cuda();
  const PoolKey key = make_pool_key(mode, p, x, dtype);
  auto& slot = cu.plans().pool[key];
  if (slot) return *slot;
  const std::string what = "pooling x " + x.str();
  auto plan = std::make_unique<PoolPlan>();
  set_descriptors(*plan, key, what);
  slot = std::move(plan);
  return *slot;
}

// Pooling keeps NCHW on the GPU (Note [channels last]: the Network refuses
// channels-last input to a pooling layer; this guards direct calls).
void require_nchw(const Tensor& x, const char* what) {
  if (x.channels_last)
    throw Error(std::string(what) + ": channels-last " + x.shape.str() +
                " is not supported on the GPU");
}

void pool_forward(Context& ctx, cudnnPoolingMode_t mode, const Pool2dParams& p, const Tensor& x,
                  const Tensor& y, const char* what) {
  require_nchw(x, what);
  PoolPlan& plan = pool_plan(ctx, mode, p, x.shape, x.dtype);
  CNNE_CHECK_AT(cudnnPoolingForward(ctx.cuda().cudnn(), plan.pool, &kOne, plan.x, x.data, &kZero,
                                    plan.y, y.data),
                std::string(what) + " forward " + x.shape.str());
}

void pool_backward(Context& ctx, cudnnPoolingMode_t mode, const Pool2dParams& p, const Tensor& x,
                   const Tensor& y, const Tensor& dy, const Tensor& dx, const char* what) {
  require_nchw(dx, what);
  PoolPlan& plan = pool_plan(ctx, mode, p, dx.shape, dx.dtype);
  CNNE_CHECK_AT(cudnnPoolingBackward(ctx.cuda().cudnn(), plan.pool, &kOne, plan.y, y.data, plan.y,
                                     dy.data, plan.x, x.data, &kZero, plan.x, dx.data),
                std::string(what) + " backward " + dx.shape.str());
}

}  // namespace

void maxpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  pool_forward(ctx, kMaxPoolMode, p, x, y, "maxpool2d");
}

void maxpool2d_backward_gather(Context& ctx, const Pool2dParams& p, const Tensor& x,
                               const Tensor& dy, const Tensor& dx);  // maxpool_backward_cuda.cu

void maxpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor&,
                        const Tensor& dy, const Tensor& dx) {
  require_nchw(dx, "maxpool2d backward");
  maxpool2d_backward_gather(ctx, p, x, dy, dx);
}

void avgpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  pool_forward(ctx, avg_pool_mode(p), p, x, y, "avgpool2d");
}

void avgpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y,
                        const Tensor& dy, const Tensor& dx) {
  pool_backward(ctx, avg_pool_mode(p), p, x, y, dy, dx, "avgpool2d");
}

}  // namespace cnne::cuda
