#pragma once
// What the emulated-kernel tests share (Note [kernel emulation] in
// cuda/emulator.h): host tensors of any dtype and layout for the kernels and
// the CPU reference, and the comparisons.
#include <cstdint>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace cnne::emulated_test {

// A tensor in host memory of dtype `dtype` in either layout.
struct Staged {
  std::vector<uint8_t> bytes;  // (numel * dtype size)
  Tensor t;
  template <class T>
  T* as() const {
    return static_cast<T*>(t.data);
  }
};

// Shape s holding the NCHW F32 values given, rounded to the dtype; channels
// last where asked and the shape has more than one pixel.
Staged stage(const std::vector<float>& nchw, Shape s, DType dtype = DType::F32,
             bool channels_last = false);
// The values of a staged tensor, in NCHW order, as F32.
std::vector<float> values(const Staged& st);

// The worst |got - want| / (1e-3 + |want|).
double max_relative(const std::vector<float>& got, const std::vector<float>& want);
std::vector<float> uniform(Rng& rng, int64_t count, float lo, float hi);

}  // namespace cnne::emulated_test
