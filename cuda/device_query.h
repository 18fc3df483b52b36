#pragma once
// What `cnnengine info` reports, and whether the GPU path can run here: the
// tutorial's installation check (CUDA, cuDNN, cuBLAS versions; each GPU's
// name, compute capability, memory, BF16 and tensor-core support).
// Never throws: a machine without a GPU or driver is a normal answer.
#include <cstddef>
#include <string>
#include <vector>

namespace cnne::cuda {

struct GpuInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0, free_memory = 0;
  int multiprocessors = 0;
  bool bf16 = false;          // compute capability >= 8.0
  bool tensor_cores = false;  // compute capability >= 7.0
  bool cooperative = false;   // cooperative launches (the fused step's grid-wide barriers)
};

struct CudaInfo {
  bool built_with_cuda = false;
  int runtime_version = 0;   // e.g. 13000 for 13.0
  int driver_version = 0;    // 0 when no driver is installed
  size_t cudnn_version = 0;  // e.g. 91400 for 9.14.0
  int cublas_version = 0;    // major*10000 + minor*100 + patch
  std::vector<GpuInfo> gpus;
  std::string no_gpu_reason;  // set when gpus is empty
};

CudaInfo query_cuda();

// True when the CUDA backend is built and a GPU is usable; otherwise `why` says why not.
bool cuda_usable(std::string* why);

// "13.0" from 13000.
inline std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

}  // namespace cnne::cuda
