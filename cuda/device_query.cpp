#include "cuda/device_query.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace cnne::cuda {

CudaInfo query_cuda() {
  CudaInfo info;
  info.built_with_cuda = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  info.cudnn_version = cudnnGetVersion();
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    info.cublas_version = major * 10000 + minor * 100 + patch;

  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    info.no_gpu_reason = status != cudaSuccess ? std::string(cudaGetErrorName(status)) + ": " +
                                                     cudaGetErrorString(status)
                                               : "no CUDA device";
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    GpuInfo gpu;
    gpu.index = i;
    gpu.name = prop.name;
    gpu.major = prop.major;
    gpu.minor = prop.minor;
    gpu.total_memory = prop.totalGlobalMem;
    gpu.multiprocessors = prop.multiProcessorCount;
    gpu.bf16 = prop.major >= 8;
    gpu.cooperative = prop.cooperativeLaunch != 0;
    gpu.tensor_cores = prop.major >= 7;
    if (cudaSetDevice(i) == cudaSuccess) {
      size_t free_bytes = 0, total_bytes = 0;
      if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) gpu.free_memory = free_bytes;
    }
    info.gpus.push_back(gpu);
  }
  cudaSetDevice(0);
  return info;
}

bool cuda_usable(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count > 0) return true;
  if (why)
    *why = status != cudaSuccess
               ? std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status)
               : "no CUDA device";
  cudaGetLastError();
  return false;
}

}  // namespace cnne::cuda
