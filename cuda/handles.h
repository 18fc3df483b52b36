#pragma once
// Move-only RAII wrappers for every CUDA object cnnengine creates
// (DESIGN principle 4): streams, events, cuDNN and cuBLAS handles, and one
// Descriptor template for all cuDNN descriptors.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <utility>

#include "cuda/check.h"

namespace cnne::cuda {

// Owns a handle H made by Create and released by Destroy (both return a status).
template <class H, auto Create, auto Destroy>
class Owned {
 public:
  Owned() { CNNE_CHECK(Create(&h_)); }
  ~Owned() {
    if (h_) Destroy(h_);
  }
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      if (h_) Destroy(h_);
      h_ = std::exchange(o.h_, H{});
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;

  H get() const { return h_; }
  operator H() const { return h_; }

 private:
  H h_{};
};

// A blocking stream on purpose: the edge copies (cudaMemcpy on the legacy
// default stream, engine/buffer.h) then order themselves with its work.
inline cudaError_t create_stream(cudaStream_t* s) {
  return cudaStreamCreate(s);
}
inline cudaError_t create_event(cudaEvent_t* e) {
  return cudaEventCreate(e);
}
// For ordering only (no timestamps: cheaper to record and wait on).
inline cudaError_t create_sync_event(cudaEvent_t* e) {
  return cudaEventCreateWithFlags(e, cudaEventDisableTiming);
}

using Stream = Owned<cudaStream_t, create_stream, cudaStreamDestroy>;
using Event = Owned<cudaEvent_t, create_event, cudaEventDestroy>;
using SyncEvent = Owned<cudaEvent_t, create_sync_event, cudaEventDestroy>;
using CudnnHandle = Owned<cudnnHandle_t, cudnnCreate, cudnnDestroy>;
using CublasHandle = Owned<cublasHandle_t, cublasCreate, cublasDestroy>;

template <class D, auto Create, auto Destroy>
using Descriptor = Owned<D, Create, Destroy>;
using TensorDescriptor =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
               cudnnDestroyConvolutionDescriptor>;
using PoolingDescriptor = Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                                     cudnnDestroyPoolingDescriptor>;
using ActivationDescriptor =
    Descriptor<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor,
               cudnnDestroyActivationDescriptor>;

// Page-locked host memory (for asynchronous uploads); move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace cnne::cuda
