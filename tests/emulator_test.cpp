// The kernel emulation itself (Note [kernel emulation] in cuda/emulator.h):
// coordinates, barriers, shuffles and grid-wide barriers work as on a GPU, and
// the misuses a GPU leaves undefined are reported with their source lines.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "engine/error.h"

namespace {

// Each thread's (block.x, block.y, thread.x, thread.y), at its flat index.
__global__ void write_coordinates(int* out) {
  const unsigned block = blockIdx.y * gridDim.x + blockIdx.x;
  const unsigned thread = threadIdx.y * blockDim.x + threadIdx.x;
  int* at = out + 4 * (block * blockDim.x * blockDim.y + thread);
  at[0] = static_cast<int>(blockIdx.x);
  at[1] = static_cast<int>(blockIdx.y);
  at[2] = static_cast<int>(threadIdx.x);
  at[3] = static_cast<int>(threadIdx.y);
}

// Each block's sum of its 256 values: shuffles within warps, then the warps'
// sums through shared memory after a barrier.
__global__ void block_sums(const int* x, int* sums) {
  int v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  __shared__ int warp_sums[8];
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    int s = 0;
    for (int w = 0; w < 8; ++w) s += warp_sums[w];
    sums[blockIdx.x] = s;
  }
}

// out[i] = the value thread i + 1 (of the block) wrote before the barrier.
__global__ void rotate_in_block(int* out) {
  __shared__ int slots[128];
  slots[threadIdx.x] = static_cast<int>(blockIdx.x * 1000 + threadIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = slots[(threadIdx.x + 1) % blockDim.x];
}

// out[i] = what thread i + 1 of the grid wrote before the grid-wide barrier.
__global__ void rotate_in_grid(int* scratch, int* out) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const unsigned tid = blockIdx.x * blockDim.x + threadIdx.x, threads = gridDim.x * blockDim.x;
  scratch[tid] = static_cast<int>(tid * 3);
  grid.sync();
  out[tid] = scratch[(tid + 1) % threads];
  atomicAdd(scratch + threads, 1);
}

__global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 16)
    __syncthreads();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void shuffle_after_return(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffff, static_cast<int>(threadIdx.x), 1);
}

// (Declared only: every block writing it at once would be a race, which
// ThreadSanitizer reports before the emulation can.)
__global__ void shared_in_cooperative(int* out) {
  __shared__ int cell[1];
  (void)cell;
  if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = 1;
}

__global__ void grid_sync_in_plain_launch(int* out) {
  cooperative_groups::this_grid().sync();
  if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = 1;
}

// Lanes 0-15 of the warp wait in a shuffle for lanes 16-31, which wait at
// the block's barrier for them: a hang on a GPU.
__global__ void shuffle_against_barrier(int* out) {
  if (threadIdx.x < 16)
    out[threadIdx.x] = __shfl_down_sync(0xffffffff, static_cast<int>(threadIdx.x), 1);
  else
    __syncthreads();
}

// The message of the emulated launch's error, "" if it ran clean.
template <class F>
std::string error_of(F&& launch) {
  try {
    launch();
  } catch (const cnne::Error& e) {
    return e.what();
  }
  return "";
}

TEST(KernelEmulator, GivesEachThreadItsCoordinates) {
  const dim3 grid(3, 2), block(8, 4);
  std::vector<int> out(4 * 3 * 2 * 8 * 4, -1);
  cnne_emu::launch(grid, block, write_coordinates, out.data());
  for (int by = 0, i = 0; by < 2; ++by)
    for (int bx = 0; bx < 3; ++bx)
      for (int ty = 0; ty < 4; ++ty)
        for (int tx = 0; tx < 8; ++tx, i += 4) {
          ASSERT_EQ(out[i], bx);
          ASSERT_EQ(out[i + 1], by);
          ASSERT_EQ(out[i + 2], tx);
          ASSERT_EQ(out[i + 3], ty);
        }
}

TEST(KernelEmulator, ShufflesAndBarriersReduceLikeAGpu) {
  std::vector<int> x(5 * 256);
  std::iota(x.begin(), x.end(), -300);
  std::vector<int> sums(5, 0);
  cnne_emu::launch(dim3(5), dim3(256), block_sums, x.data(), sums.data());
  for (int b = 0; b < 5; ++b)
    EXPECT_EQ(sums[b], std::accumulate(x.begin() + b * 256, x.begin() + (b + 1) * 256, 0)) << b;
}

TEST(KernelEmulator, SharedMemoryIsTheBlocksAfterABarrier) {
  std::vector<int> out(3 * 128, -1);
  cnne_emu::launch(dim3(3), dim3(128), rotate_in_block, out.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 128; ++t) EXPECT_EQ(out[b * 128 + t], b * 1000 + (t + 1) % 128);
}

TEST(KernelEmulator, CooperativeLaunchesWaitForTheWholeGrid) {
  const int threads = 3 * 64;
  std::vector<int> scratch(threads + 1, 0), out(threads, -1);
  cnne_emu::launch_cooperative(dim3(3), dim3(64), rotate_in_grid, scratch.data(), out.data());
  for (int t = 0; t < threads; ++t) EXPECT_EQ(out[t], (t + 1) % threads * 3);
  EXPECT_EQ(scratch[threads], threads);  // the atomic count
}

TEST(KernelEmulator, ReportsBarriersInDivergentCode) {
  std::vector<int> out(32);
  const std::string e =
      error_of([&] { cnne_emu::launch(dim3(1), dim3(32), divergent_barrier, out.data()); });
  EXPECT_NE(e.find("different barriers"), std::string::npos) << e;
  EXPECT_NE(e.find("emulator_test.cpp:"), std::string::npos) << e;
}

TEST(KernelEmulator, ReportsAShuffleALaneOfTheMaskLeft) {
  std::vector<int> out(32);
  const std::string e =
      error_of([&] { cnne_emu::launch(dim3(1), dim3(32), shuffle_after_return, out.data()); });
  EXPECT_NE(e.find("lane 5 of the mask did not take part"), std::string::npos) << e;
}

TEST(KernelEmulator, ADeadlockAbortsNamingTheBarrier) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("CNNE_EMULATOR_DEADLOCK_SECONDS", "1", 1);
        std::vector<int> out(32);
        cnne_emu::launch(dim3(1), dim3(32), shuffle_against_barrier, out.data());
      },
      "emulated kernel: deadlock, 16 of (32|16) threads wait at emulator_test.cpp:");
}

TEST(KernelEmulator, RefusesSharedArraysInCooperativeLaunchesAndGridSyncElsewhere) {
  std::vector<int> out(1);
  std::string e = error_of(
      [&] { cnne_emu::launch_cooperative(dim3(2), dim3(4), shared_in_cooperative, out.data()); });
  EXPECT_NE(e.find("cooperative launch runs every block at once"), std::string::npos) << e;
  e = error_of([&] { cnne_emu::launch(dim3(2), dim3(4), grid_sync_in_plain_launch, out.data()); });
  EXPECT_NE(e.find("not cooperative"), std::string::npos) << e;
  e = error_of([&] { cnne_emu::launch(dim3(1), dim3(2048), block_sums, nullptr, nullptr); });
  EXPECT_NE(e.find("1 to 1024 threads a block"), std::string::npos) << e;
}

}  // namespace
