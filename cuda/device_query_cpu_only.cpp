// device_query for builds without the CUDA backend.
#include "cuda/device_query.h"

namespace cnne::cuda {

CudaInfo query_cuda() {
  CudaInfo info;
  info.no_gpu_reason = "this cnnengine was built without CUDA (no nvcc or cuDNN at build time)";
  return info;
}

bool cuda_usable(std::string* why) {
  if (why) *why = query_cuda().no_gpu_reason;
  return false;
}

}  // namespace cnne::cuda
