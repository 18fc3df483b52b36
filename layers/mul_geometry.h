#pragma once
// Note [mul geometry]: how the mul op (engine/op_signatures.inc) pairs each
// element of x with one of s. Shared by the CPU reference
// (layers/mul_cpu.cpp) and the GPU kernels (layers/mul_kernels.cuh).
//   same count: s is x's shape (or x's elements seen as another shape) in x's
//     layout: element i with element i (area 1, no channels-last indexing);
//   a gate: x (N, C, H, W), s (N, C, 1, 1) or (N, C): element i of plane
//     n * C + c with s[n * C + c], in NCHW (i / area) or channels-last
//     ((i / (area * C)) * C + i % C) x.
#include <cstdint>
#include <string>

#include "engine/host_device.h"
#include "engine/tensor.h"

namespace cnne {

struct MulGeometry {
  int64_t count = 0;           // elements of x, y, dy, dx
  int64_t planes = 0;          // elements of s and ds
  int64_t channels = 1;        // C of a gate (its channels-last indexing)
  int64_t area = 1;            // H * W of a gate; 1 for the same count
  bool channels_last = false;  // a gate over a channels-last x
  bool gate() const { return area > 1 || channels_last; }
};

// The pairing of x and s; throws naming `what` and both shapes when s fits x
// in neither way, or when tensors of one count differ in layout.
MulGeometry mul_geometry(const Tensor& x, const Tensor& s, const std::string& what);

// The element of s that element i of x meets.
CNNE_HOST_DEVICE inline int64_t mul_gate_index(int64_t i, const MulGeometry& g) {
  if (!g.channels_last) return i / g.area;
  const int64_t image = g.area * g.channels;
  return (i / image) * g.channels + i % g.channels;
}

}  // namespace cnne
