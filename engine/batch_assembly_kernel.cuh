#pragma once
// The batch assembly kernel, launched by engine/batch_assembly_cuda.cu and run
// on CPU threads by the emulated-kernel tests (Note [kernel emulation] in
// cuda/emulator.h); the unnamed namespace gives each file that includes this
// its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "engine/batch_assembly.h"
#include "engine/layout.h"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void assemble_kernel(BatchSource source, const BatchArgs* args, T* x,
                                int32_t* labels_out, int64_t total, bool channels_last) {
  const BatchArgs a = *args;  // this step's (Note [graph-safe step arguments])
  const int64_t c = source.channels, hw = int64_t(source.height) * source.width;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const BatchElement e = batch_element(source, a, t);
    // NCHW, or NHWC for a channels-last batch (Note [channels last])
    x[channels_last ? nhwc_of_nchw(t, c, hw) : t] = from_float<T>(e.value);
    if (e.first) {
      labels_out[e.image] = source.labels[e.index];
      // Note [batch mixing]: the neighbours' labels follow the batch's own
      if (a.mix_mode != kNoMix) labels_out[a.count + e.image] = source.labels[e.neighbour_index];
    }
  }
}

}  // namespace
}  // namespace cnne::cuda
