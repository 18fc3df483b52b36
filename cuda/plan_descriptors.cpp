// The descriptor half of the convolution and pooling plans: every cuDNN
// descriptor a plan holds, set from its key. No handle is involved, so this
// runs without a GPU, and tests/cudnn_descriptors_test.cpp checks every shipped
// network's plans here on a CPU machine (cuDNN's checks of formats, data types
// and output sizes; algorithm choice needs the GPU).
#include <limits>
#include <string>

#include "cuda/check.h"
#include "cuda/plans.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cnne::cuda {

int library_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw DeviceError(std::string(what) + ": size " + std::to_string(v) +
                      " does not fit the int that cuDNN and cuBLAS take");
  return static_cast<int>(v);
}

ConvKey make_conv_key(const Conv2dParams& p, const Shape& x, const Shape& w, DType dtype, bool tf32,
                      bool nhwc) {
  const char* what = "conv2d";
  if (!conv_groups_fit(p, x, w))
    throw DeviceError("conv2d: x " + x.str() + " and w " + w.str() +
                      " do not fit groups = " + std::to_string(p.groups));
  return ConvKey{static_cast<int>(dtype),
                 dtype == DType::F32 && tf32 ? 1 : 0,
                 library_int(x[0], what),
                 library_int(x[1], what),
                 library_int(x[2], what),
                 library_int(x[3], what),
                 library_int(w[0], what),
                 library_int(w[2], what),
                 library_int(w[3], what),
                 p.stride_h,
                 p.stride_w,
                 p.pad_h,
                 p.pad_w,
                 nhwc ? 1 : 0,
                 p.groups,
                 p.dilation_h,
                 p.dilation_w};
}

PoolKey make_pool_key(cudnnPoolingMode_t mode, const Pool2dParams& p, const Shape& x, DType dtype) {
  const char* what = "pooling";
  return PoolKey{static_cast<int>(dtype),
                 static_cast<int>(mode),
                 library_int(x[0], what),
                 library_int(x[1], what),
                 library_int(x[2], what),
                 library_int(x[3], what),
                 p.kernel_h,
                 p.kernel_w,
                 p.stride_h,
                 p.stride_w,
                 p.pad_h,
                 p.pad_w};
}

std::string describe(const ConvKey& k) {
  auto s = [](int v) { return std::to_string(v); };
  return std::string("conv ") + dtype_name(static_cast<DType>(k.dtype)) + (k.tf32 ? " tf32" : "") +
         (k.nhwc ? " nhwc" : "") + " x (" + s(k.n) + ", " + s(k.c) + ", " + s(k.h) + ", " + s(k.w) +
         ") w (" + s(k.k) + ", " + s(k.c / k.groups) + ", " + s(k.r) + ", " + s(k.s) +
         ") stride (" + s(k.stride_h) + ", " + s(k.stride_w) + ") pad (" + s(k.pad_h) + ", " +
         s(k.pad_w) + ")" +
         (k.dilation_h != 1 || k.dilation_w != 1
              ? " dilation (" + s(k.dilation_h) + ", " + s(k.dilation_w) + ")"
              : "") +
         (k.groups > 1 ? " groups " + s(k.groups) : "");
}

cudnnMathType_t conv_math(const ConvKey& key) {
  if (is_half(static_cast<DType>(key.dtype))) return CUDNN_TENSOR_OP_MATH;
  return key.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

void set_descriptors(ConvPlan& plan, const ConvKey& key, const std::string& what) {
  const cudnnDataType_t type = cudnn_data_type(static_cast<DType>(key.dtype));
  // Note [channels last]: NHWC data and a (K, R, S, C) filter, the layout
  // cuDNN's tensor-core kernels use without transposing.
  const cudnnTensorFormat_t format = key.nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  CNNE_CHECK_AT(cudnnSetTensor4dDescriptor(plan.x, format, type, key.n, key.c, key.h, key.w), what);
  CNNE_CHECK_AT(
      cudnnSetFilter4dDescriptor(plan.w, type, format, key.k, key.c / key.groups, key.r, key.s),
      what);
  // 16-bit data accumulates in F32 (cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configurations).
  CNNE_CHECK_AT(cudnnSetConvolution2dDescriptor(plan.conv, key.pad_h, key.pad_w, key.stride_h,
                                                key.stride_w, key.dilation_h, key.dilation_w,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                what);
  CNNE_CHECK_AT(cudnnSetConvolutionMathType(plan.conv, conv_math(key)), what);
  CNNE_CHECK_AT(cudnnSetConvolutionGroupCount(plan.conv, key.groups), what);
  int n = 0, k = 0, p = 0, q = 0;
  CNNE_CHECK_AT(cudnnGetConvolution2dForwardOutputDim(plan.conv, plan.x, plan.w, &n, &k, &p, &q),
                what);
  if (n != key.n || k != key.k ||
      p != window_output_size(key.h, key.r, key.stride_h, key.pad_h, key.dilation_h) ||
      q != window_output_size(key.w, key.s, key.stride_w, key.pad_w, key.dilation_w))
    throw DeviceError("cuDNN output size (" + std::to_string(n) + ", " + std::to_string(k) + ", " +
                      std::to_string(p) + ", " + std::to_string(q) +
                      ") differs from cnnengine's for " + what);
  CNNE_CHECK_AT(cudnnSetTensor4dDescriptor(plan.y, format, type, n, k, p, q), what);
  CNNE_CHECK_AT(
      cudnnSetTensor4dDescriptor(plan.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, k, 1, 1), what);
}

void set_descriptors(PoolPlan& plan, const PoolKey& key, const std::string& what) {
  const cudnnDataType_t type = cudnn_data_type(static_cast<DType>(key.dtype));
  CNNE_CHECK_AT(
      cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NCHW, type, key.n, key.c, key.h, key.w),
      what);
  CNNE_CHECK_AT(cudnnSetPooling2dDescriptor(plan.pool, static_cast<cudnnPoolingMode_t>(key.mode),
                                            CUDNN_PROPAGATE_NAN, key.kernel_h, key.kernel_w,
                                            key.pad_h, key.pad_w, key.stride_h, key.stride_w),
                what);
  int n = 0, c = 0, h = 0, w = 0;
  CNNE_CHECK_AT(cudnnGetPooling2dForwardOutputDim(plan.pool, plan.x, &n, &c, &h, &w), what);
  if (n != key.n || c != key.c ||
      h != window_output_size(key.h, key.kernel_h, key.stride_h, key.pad_h) ||
      w != window_output_size(key.w, key.kernel_w, key.stride_w, key.pad_w))
    throw DeviceError("cuDNN pooling output size (" + std::to_string(n) + ", " + std::to_string(c) +
                      ", " + std::to_string(h) + ", " + std::to_string(w) +
                      ") differs from cnnengine's for " + what);
  CNNE_CHECK_AT(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NCHW, type, n, c, h, w), what);
}

}  // namespace cnne::cuda
