#pragma once
// The device API our kernel headers (layers/*_kernels.cuh,
// engine/*_kernel.cuh) are written against: CUDA's under nvcc, the CPU
// emulation's when a host compiler builds them for the tests with
// CNNE_EMULATED_KERNELS defined (Note [kernel emulation] in cuda/emulator.h).
#ifdef CNNE_EMULATED_KERNELS
#include "cuda/emulator.h"
#else
#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif
