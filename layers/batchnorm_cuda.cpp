// BatchNorm2d on the GPU through cuDNN's spatial batch normalization (the
// legacy cudnnBatchNormalization* calls, deprecated in cuDNN 9 but present).
// cuDNN saves the batch mean and 1/sqrt(var + eps) for the backward and
// updates the running variance with the unbiased estimate, as PyTorch does.
// Under mixed precision x, y, dy and dx are BF16/F16 while scale, shift,
// statistics and their gradients stay F32 (cuDNN's rule for 16-bit data).
#include <algorithm>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

const float kOne = 1.0f, kZero = 0.0f;

double cudnn_eps(float eps) {
  return std::max<double>(eps, CUDNN_BN_MIN_EPSILON);
}

}  // namespace

void batchnorm_forward_training(Context& ctx, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, float momentum, float eps,
                                const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& save_mean, const Tensor& save_invstd,
                                const Tensor& y) {
  CudaContext& cu = ctx.cuda();
  const cudnnTensorDescriptor_t xd = cu.nchw_descriptor(x.shape, x.dtype);
  const cudnnTensorDescriptor_t cd = cu.nchw_descriptor(Shape{1, x.shape[1], 1, 1});
  CNNE_CHECK_AT(cudnnBatchNormalizationForwardTraining(
                    cu.cudnn(), CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd, x.data, xd, y.data, cd,
                    gamma.data, beta.data, momentum, running_mean.data, running_var.data,
                    cudnn_eps(eps), save_mean.data, save_invstd.data),
                "batchnorm forward " + x.shape.str());
}

void batchnorm_forward_inference(Context& ctx, const Tensor& x, const Tensor& gamma,
                                 const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, const Tensor& y) {
  CudaContext& cu = ctx.cuda();
  const cudnnTensorDescriptor_t xd = cu.nchw_descriptor(x.shape, x.dtype);
  const cudnnTensorDescriptor_t cd = cu.nchw_descriptor(Shape{1, x.shape[1], 1, 1});
  CNNE_CHECK_AT(cudnnBatchNormalizationForwardInference(
                    cu.cudnn(), CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd, x.data, xd, y.data, cd,
                    gamma.data, beta.data, running_mean.data, running_var.data, cudnn_eps(eps)),
                "batchnorm inference " + x.shape.str());
}

void batchnorm_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& save_mean, const Tensor& save_invstd, float eps,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  CudaContext& cu = ctx.cuda();
  const cudnnTensorDescriptor_t xd = cu.nchw_descriptor(x.shape, x.dtype);
  const cudnnTensorDescriptor_t cd = cu.nchw_descriptor(Shape{1, x.shape[1], 1, 1});
  CNNE_CHECK_AT(cudnnBatchNormalizationBackward(cu.cudnn(), CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero,
                                                &kOne, &kZero, xd, x.data, xd, dy.data, xd, dx.data,
                                                cd, gamma.data, dgamma.data, dbeta.data,
                                                cudnn_eps(eps), save_mean.data, save_invstd.data),
                "batchnorm backward " + x.shape.str());
}

}  // namespace cnne::cuda
