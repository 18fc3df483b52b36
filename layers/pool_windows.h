#pragma once
// Which pooling windows along one axis contain input position i: window o
// covers o * stride - pad .. o * stride - pad + kernel - 1. Shared by the GPU
// max-pool backward (a gather over the windows of each input element) and
// the CPU tests that check it against a brute-force scan.
#include "engine/host_device.h"

namespace cnne {

// Sets [*first, *last] to the windows (0 .. out_size - 1) containing i; empty
// (*first > *last) when none does.
CNNE_HOST_DEVICE inline void pool_windows_containing(int i, int kernel, int stride, int pad,
                                                     int out_size, int* first, int* last) {
  // o * stride - pad <= i  and  i <= o * stride - pad + kernel - 1
  const int lo = i + pad - kernel + 1;  // o * stride >= lo
  const int ceil_lo = lo > 0 ? (lo + stride - 1) / stride : 0;
  const int hi = (i + pad) / stride;  // i + pad >= 0
  *first = ceil_lo;
  *last = hi < out_size - 1 ? hi : out_size - 1;
}

}  // namespace cnne
