#pragma once
// A block-wide sum of two doubles in a fixed order (bit-reproducible, no
// atomics), for the kernels that reduce a block's values (batch and group
// normalization): each warp sums by shuffles, then thread 0 adds the warps'
// sums in warp order. Every thread of the block must call it; thread 0 gets
// the totals. kThreads is the block size, a multiple of 32.
#include "cuda/device_api.cuh"

namespace cnne::cuda {
namespace {

template <int kThreads>
__device__ void block_sum_pair(double& a, double& b) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "a block of whole warps");
  __shared__ double shared[2][kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    a += __shfl_down_sync(0xffffffff, a, offset);
    b += __shfl_down_sync(0xffffffff, b, offset);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    shared[0][warp] = a;
    shared[1][warp] = b;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    a = b = 0;
    for (int w = 0; w < kThreads / 32; ++w) {
      a += shared[0][w];
      b += shared[1][w];
    }
  }
}

}  // namespace
}  // namespace cnne::cuda
