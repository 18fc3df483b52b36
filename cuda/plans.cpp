#include "cuda/plans.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "engine/error.h"

namespace cnne::cuda {

size_t ConvPlan::workspace_bytes() const {
  return std::max({forward_bytes, backward_data_bytes, backward_filter_bytes});
}

cudnnDataType_t cudnn_data_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDNN_DATA_FLOAT;
    case DType::BF16:
      return CUDNN_DATA_BFLOAT16;
    case DType::F16:
      return CUDNN_DATA_HALF;
    default:
      throw Error(std::string("cuDNN: tensor is ") + dtype_name(t) + ", expected F32, BF16 or F16");
  }
}

namespace {

const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH:
      return "default";
    case CUDNN_TENSOR_OP_MATH:
      return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "tensor-op+conversion";
    case CUDNN_FMA_MATH:
      return "fma";
    default:
      return "?";
  }
}

const char* forward_name(cudnnConvolutionFwdAlgo_t a) {
  static const char* names[] = {
      "implicit_gemm", "implicit_precomp_gemm", "gemm", "direct", "fft", "fft_tiling",
      "winograd",      "winograd_nonfused"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 8 ? names[i] : "?";
}

const char* backward_data_name(cudnnConvolutionBwdDataAlgo_t a) {
  static const char* names[] = {"algo_0",     "algo_1",   "fft",
                                "fft_tiling", "winograd", "winograd_nonfused"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 6 ? names[i] : "?";
}

const char* backward_filter_name(cudnnConvolutionBwdFilterAlgo_t a) {
  static const char* names[] = {
      "algo_0", "algo_1", "fft", "algo_3", "winograd", "winograd_nonfused", "fft_tiling"};
  const int i = static_cast<int>(a);
  return i >= 0 && i < 7 ? names[i] : "?";
}

std::string choice(const char* name, cudnnMathType_t math, size_t bytes, float ms, int candidates) {
  char text[160];
  if (ms >= 0)
    std::snprintf(text, sizeof text, "%s (%s, %.1f MiB, %.3f ms, best of %d)", name,
                  math_name(math), static_cast<double>(bytes) / (1 << 20), static_cast<double>(ms),
                  candidates);
  else
    std::snprintf(text, sizeof text, "%s (%s, %.1f MiB, heuristic order)", name, math_name(math),
                  static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::vector<std::string> describe_conv_plans(const PlanCache& plans) {
  std::vector<std::string> lines;
  for (const auto& [k, plan] : plans.conv) {
    if (!plan) continue;
    lines.push_back(describe(k) + "\n    forward " +
                    choice(forward_name(plan->forward_algo), plan->forward_math,
                           plan->forward_bytes, plan->forward_ms, plan->forward_candidates) +
                    "\n    backward data " +
                    choice(backward_data_name(plan->backward_data_algo), plan->backward_data_math,
                           plan->backward_data_bytes, plan->backward_data_ms,
                           plan->backward_data_candidates) +
                    "\n    backward filter " +
                    choice(backward_filter_name(plan->backward_filter_algo),
                           plan->backward_filter_math, plan->backward_filter_bytes,
                           plan->backward_filter_ms, plan->backward_filter_candidates));
  }
  return lines;
}

void require_dtype(DType t, std::initializer_list<const Tensor*> tensors, const std::string& what) {
  for (const Tensor* x : tensors)
    if (x->dtype != t)
      throw Error(what + ": a tensor is " + dtype_name(x->dtype) + " where " + dtype_name(t) +
                  " was expected (shape " + x->shape.str() + ")");
}

bool require_same_layout(const Tensor& x, std::initializer_list<const Tensor*> others,
                         const std::string& what) {
  for (const Tensor* t : others)
    if (t->channels_last != x.channels_last)
      throw Error(what + ": x is " + (x.channels_last ? "channels-last" : "NCHW") +
                  " but another tensor is " + (t->channels_last ? "channels-last" : "NCHW"));
  return x.channels_last;
}

}  // namespace cnne::cuda
