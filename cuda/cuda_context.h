#pragma once
// CudaContext: the GPU state of one engine Context, with no globals
// (DESIGN principle 4): the stream every op runs on, the cuDNN and cuBLAS
// handles bound to it, cuBLAS's own workspace, and the plan cache.
#include <cstddef>
#include <utility>

#include "cuda/handles.h"
#include "cuda/plans.h"
#include "engine/shape.h"

namespace cnne::cuda {

class CudaContext {
 public:
  // Uses GPU $CNNE_CUDA_DEVICE (default 0); throws DeviceError if none is usable.
  CudaContext();
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  // (major, minor) of this device.
  std::pair<int, int> compute_capability() const;
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  PlanCache& plans() { return plans_; }
  // The most scratch memory an algorithm choice may ask for.
  size_t workspace_limit() const { return workspace_limit_; }
  // A cached NCHW descriptor for `shape` of `dtype` (F32, BF16, F16); a shape
  // of another rank than 4 is seen flat, as (1, 1, 1, numel), which suits
  // elementwise calls.
  cudnnTensorDescriptor_t nchw_descriptor(const Shape& shape, DType dtype = DType::F32);
  const ActivationDescriptor& relu() const { return relu_; }
  void synchronize() const;

 private:
  int device_ = 0;
  Stream stream_;
  CudnnHandle cudnn_;
  CublasHandle cublas_;
  void* cublas_workspace_ = nullptr;  // given to cuBLAS so it never allocates on its own
  ActivationDescriptor relu_;
  size_t workspace_limit_ = 0;
  PlanCache plans_;
};

}  // namespace cnne::cuda
