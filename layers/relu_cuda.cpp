// ReLU on the GPU through a cuDNN activation descriptor. The backward reads the
// output y in place of the input x: for ReLU, y > 0 exactly where x > 0.
// F32, BF16 or F16 through the descriptor's data type (float scaling factors).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {
const float kOne = 1.0f, kZero = 0.0f;
}

void relu_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  CudaContext& cu = ctx.cuda();
  const cudnnTensorDescriptor_t d = cu.nchw_descriptor(x.shape, x.dtype);
  CNNE_CHECK_AT(cudnnActivationForward(cu.cudnn(), cu.relu(), &kOne, d, x.data, &kZero, d, y.data),
                "relu forward " + x.shape.str());
}

void relu_backward(Context& ctx, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  CudaContext& cu = ctx.cuda();
  const cudnnTensorDescriptor_t d = cu.nchw_descriptor(y.shape, y.dtype);
  CNNE_CHECK_AT(cudnnActivationBackward(cu.cudnn(), cu.relu(), &kOne, d, y.data, d, dy.data, d,
                                        y.data, &kZero, d, dx.data),
                "relu backward " + y.shape.str());
}

}  // namespace cnne::cuda
