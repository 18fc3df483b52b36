#pragma once
// Plans: the cuDNN descriptors and chosen algorithms of one operation at one
// set of sizes, made once at setup and looked up by a plain key of every size
// (PyTorch's ConvolutionParams idea). Looking a plan up allocates nothing.
#include <compare>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda/handles.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace cnne::cuda {

struct ConvKey {
  int dtype;       // DType of x, w and y (Note [mixed precision])
  int tf32;        // F32 data: 1 when TF32 tensor-core math is allowed (Context::allow_tf32)
  int n, c, h, w;  // input
  int k, r, s;     // filter: (K, C / groups, R, S)
  int stride_h, stride_w, pad_h, pad_w;
  int nhwc;    // 1: x, y NHWC and w (K, R, S, C / groups) in memory (Note [channels last])
  int groups;  // Conv2dParams::groups
  int dilation_h, dilation_w;
  auto operator<=>(const ConvKey&) const = default;
};

struct ConvPlan {
  TensorDescriptor x, y, bias;  // x (N, C, H, W), y (N, K, P, Q), bias (1, K, 1, 1)
  FilterDescriptor w;           // (K, C / groups, R, S)
  ConvolutionDescriptor conv;
  cudnnConvolutionFwdAlgo_t forward_algo{};
  cudnnConvolutionBwdDataAlgo_t backward_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t backward_filter_algo{};
  size_t forward_bytes = 0, backward_data_bytes = 0, backward_filter_bytes = 0;
  // The math type each chosen algorithm was found with, set on `conv` before
  // its call (16-bit data; F32 stays CUDNN_FMA_MATH throughout).
  cudnnMathType_t forward_math = CUDNN_FMA_MATH, backward_data_math = CUDNN_FMA_MATH,
                  backward_filter_math = CUDNN_FMA_MATH;
  bool per_call_math = false;
  // What cudnnFind* measured for each chosen algorithm (ms; -1 where the
  // heuristic order chose), and how many candidates it had: for reports.
  float forward_ms = -1, backward_data_ms = -1, backward_filter_ms = -1;
  int forward_candidates = 0, backward_data_candidates = 0, backward_filter_candidates = 0;

  size_t workspace_bytes() const;
};

struct PoolKey {
  int dtype;  // DType of x and y
  int mode;   // cudnnPoolingMode_t
  int n, c, h, w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  auto operator<=>(const PoolKey&) const = default;
};

// The cuDNN modes of cnnengine's poolings: max (ties deterministic) and
// average counting the padding (PyTorch's count_include_pad default) or not.
constexpr cudnnPoolingMode_t kMaxPoolMode = CUDNN_POOLING_MAX_DETERMINISTIC;
constexpr cudnnPoolingMode_t kAvgPoolMode = CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
// count_include_pad false: the divisor counts the window's pixels inside the image.
constexpr cudnnPoolingMode_t kAvgPoolExcludePadMode = CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
inline cudnnPoolingMode_t avg_pool_mode(const Pool2dParams& p) {
  return p.count_include_pad ? kAvgPoolMode : kAvgPoolExcludePadMode;
}

struct PoolPlan {
  TensorDescriptor x, y;
  PoolingDescriptor pool;
};

struct NchwKey {
  int dtype;  // DType
  int64_t n, c, h, w;
  auto operator<=>(const NchwKey&) const = default;
};

// v as the int cuDNN's descriptors and cuBLAS's sizes take; throws naming
// `what` when it does not fit.
int library_int(int64_t v, const char* what);

// The keys of a convolution (x (N, C, H, W), w (K, C / groups, R, S); `tf32` counts
// for F32 data only) and of a pooling; they throw for sizes beyond int.
ConvKey make_conv_key(const Conv2dParams& p, const Shape& x, const Shape& w, DType dtype, bool tf32,
                      bool nhwc);
PoolKey make_pool_key(cudnnPoolingMode_t mode, const Pool2dParams& p, const Shape& x, DType dtype);

// "conv BF16 nhwc x (N, C, H, W) w (K, C, R, S) stride (1, 1) pad (1, 1)":
// a plan in errors and in `cnnengine bench`.
std::string describe(const ConvKey& key);

// Sets every descriptor of a plan from its key, and throws naming `what`
// unless cuDNN accepts them and its output size is cnnengine's. No handle:
// this runs on machines without a GPU (cuda/plan_descriptors.cpp).
void set_descriptors(ConvPlan& plan, const ConvKey& key, const std::string& what);
void set_descriptors(PoolPlan& plan, const PoolKey& key, const std::string& what);
// The math type a convolution's descriptor is set with: tensor-op for 16-bit
// data, cuDNN's default (TF32 allowed) for F32 with tf32, strict FMA otherwise.
cudnnMathType_t conv_math(const ConvKey& key);

// cuDNN's name for a float dtype (F32, BF16, F16); throws for others.
cudnnDataType_t cudnn_data_type(DType t);

// Throws naming `what` unless every tensor has dtype `t` (a descriptor built
// from one tensor's dtype must not reinterpret another's bytes).
void require_dtype(DType t, std::initializer_list<const Tensor*> tensors, const std::string& what);

// Whether x is channels-last (Note [channels last]); throws naming `what`
// unless every other tensor has x's layout.
bool require_same_layout(const Tensor& x, std::initializer_list<const Tensor*> others,
                         const std::string& what);

// One line per convolution plan: its sizes, and for each direction the chosen
// algorithm, its math type, workspace and measured time (`cnnengine bench`).
struct PlanCache;
std::vector<std::string> describe_conv_plans(const PlanCache& plans);

// Owns every plan of one CudaContext.
struct PlanCache {
  std::map<ConvKey, std::unique_ptr<ConvPlan>> conv;
  std::map<PoolKey, std::unique_ptr<PoolPlan>> pool;
  std::map<NchwKey, std::unique_ptr<TensorDescriptor>> nchw;  // plain NCHW tensors
};

}  // namespace cnne::cuda
