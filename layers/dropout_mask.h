#pragma once
// The dropout draw shared by the CPU and the GPU: a counter-based hash of
// (step key, element index), so both backends make the same mask and a
// resumed run the same masks as an uninterrupted one.
#include <cstdint>

#include "engine/host_device.h"

namespace cnne {

// The kept elements' scale, PyTorch's 1 / float(1 - p) (p as a double), used
// by the forward and the backward alike.
CNNE_HOST_DEVICE inline float dropout_keep_scale(double p) {
  return 1.0f / static_cast<float>(1.0 - p);
}

// A layer's key for this step: the step's key mixed with the layer's salt.
CNNE_HOST_DEVICE inline uint64_t dropout_key(uint64_t step_key, uint64_t salt) {
  return step_key ^ (salt * 0xd6e8feb86659fd93ULL);
}

// The draw of element i: i itself, or with per_channel (Dropout2d) its
// (n, c) plane's index n * C + c, from the memory order of an (N, C, H, W)
// tensor with planes of `plane` = H * W pixels, NCHW or NHWC; the same index
// in both layouts, so both give one mask.
CNNE_HOST_DEVICE inline uint64_t dropout_draw_index(int64_t i, bool per_channel, int64_t plane,
                                                    int64_t channels, bool nhwc) {
  if (!per_channel) return static_cast<uint64_t>(i);
  if (!nhwc) return static_cast<uint64_t>(i / plane);
  return static_cast<uint64_t>(i / (plane * channels) * channels + i % channels);
}

// Uniform in [0, 1) with 24 random bits.
CNNE_HOST_DEVICE inline float dropout_uniform(uint64_t key, uint64_t index) {
  uint64_t z = key + (index + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace cnne
