#include "cuda/cuda_context.h"

#include <cstdlib>
#include <string>

#include "cuda/device_memory.h"
#include "engine/error.h"

namespace cnne::cuda {
namespace {

constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // NVIDIA's advice for Hopper
constexpr size_t kMaxConvWorkspaceBytes = 512u << 20;

int chosen_device() {
  int count = 0;
  const cudaError_t s = cudaGetDeviceCount(&count);
  if (s != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw DeviceError("no usable GPU (" +
                      (s != cudaSuccess ? status_text(s) : std::string("no CUDA device")) + ")");
  }
  int device = 0;
  if (const char* env = std::getenv("CNNE_CUDA_DEVICE"); env && *env) {
    char* end = nullptr;
    device = static_cast<int>(std::strtol(env, &end, 10));
    if (*end != '\0' || device < 0 || device >= count)
      throw DeviceError("CNNE_CUDA_DEVICE=" + std::string(env) + ": expected 0.." +
                        std::to_string(count - 1));
  }
  CNNE_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace

CudaContext::CudaContext() : device_(chosen_device()) {
  CNNE_CHECK(cudnnSetStream(cudnn_, stream_));
  CNNE_CHECK(cublasSetStream(cublas_, stream_));
  // Strict FP32 GEMMs (no TF32): the GPU path must match the CPU reference.
  // Default math (strict FP32 SGEMM: no TF32), and 16-bit GEMMs (mixed
  // precision) keep their split-K partial sums in FP32 too.
  CNNE_CHECK(cublasSetMathMode(
      cublas_, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                         CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  cublas_workspace_ = device_malloc(kCublasWorkspaceBytes);
  CNNE_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
  CNNE_CHECK(cudnnSetActivationDescriptor(relu_, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
  size_t free_bytes = 0, total = 0;
  CNNE_CHECK(cudaMemGetInfo(&free_bytes, &total));
  workspace_limit_ = std::min(kMaxConvWorkspaceBytes, free_bytes / 8);
}

CudaContext::~CudaContext() {
  cudaStreamSynchronize(stream_);
  device_free(cublas_workspace_);
}

cudnnTensorDescriptor_t CudaContext::nchw_descriptor(const Shape& shape, DType dtype) {
  const int t = static_cast<int>(dtype);
  const NchwKey key = shape.rank() == 4 ? NchwKey{t, shape[0], shape[1], shape[2], shape[3]}
                                        : NchwKey{t, 1, 1, 1, shape.numel()};
  auto& slot = plans_.nchw[key];
  if (!slot) {
    slot = std::make_unique<TensorDescriptor>();
    CNNE_CHECK_AT(
        cudnnSetTensor4dDescriptor(*slot, CUDNN_TENSOR_NCHW, cudnn_data_type(dtype),
                                   library_int(key.n, "tensor"), library_int(key.c, "tensor"),
                                   library_int(key.h, "tensor"), library_int(key.w, "tensor")),
        "tensor " + shape.str());
  }
  return *slot;
}

std::pair<int, int> CudaContext::compute_capability() const {
  int major = 0, minor = 0;
  CNNE_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_));
  CNNE_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device_));
  return {major, minor};
}

void CudaContext::synchronize() const {
  CNNE_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace cnne::cuda
