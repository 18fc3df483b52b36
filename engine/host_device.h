#pragma once
// CNNE_HOST_DEVICE marks small arithmetic that CUDA kernels and the host (the
// CPU tests) share: __host__ __device__ under nvcc, nothing elsewhere.
#ifdef __CUDACC__
#define CNNE_HOST_DEVICE __host__ __device__
#else
#define CNNE_HOST_DEVICE
#endif
