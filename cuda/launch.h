#pragma once
// Grid sizing for elementwise kernels launched through tiny functions
// (pointers, sizes, stream) that check the launch (DESIGN: style).
#include <cstdint>

namespace cnne::cuda {

constexpr int kThreads = 256;

// Blocks for n elements with a grid-stride loop (capped; the loop covers the rest).
inline unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace cnne::cuda
