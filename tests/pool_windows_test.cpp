// The GPU max-pool backward's window arithmetic (layers/pool_windows.h)
// against a brute-force scan of every window, for every geometry up to 5x5
// kernels, stride 3 and padding 2.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "layers/pool_windows.h"

namespace cnne {
namespace {

TEST(PoolWindows, WindowsContainingAPositionMatchABruteForceScan) {
  int geometries = 0;
  for (int size = 1; size <= 12; ++size)
    for (int kernel = 1; kernel <= 5; ++kernel)
      for (int stride = 1; stride <= 3; ++stride)
        for (int pad = 0; pad <= 2 && 2 * pad <= kernel; ++pad) {
          const int64_t out = window_output_size(size, kernel, stride, pad);
          if (out < 1) continue;
          ++geometries;
          for (int i = 0; i < size; ++i) {
            int first = 0, last = 0;
            pool_windows_containing(i, kernel, stride, pad, static_cast<int>(out), &first, &last);
            for (int o = 0; o < out; ++o) {
              const bool contains = o * stride - pad <= i && i <= o * stride - pad + kernel - 1;
              EXPECT_EQ(contains, o >= first && o <= last)
                  << "size " << size << " kernel " << kernel << " stride " << stride << " pad "
                  << pad << " position " << i << " window " << o;
            }
          }
        }
  EXPECT_GT(geometries, 300);
}

}  // namespace
}  // namespace cnne
