#pragma once
// A decoded image made into a network's input, as PyTorch users prepare one:
//   Image.open(path).convert("RGB" or "L").resize((width, height), Image.BILINEAR)
// (torchvision's Resize((h, w)) on a PIL image). Channels as PIL converts
// them (alpha dropped; gray replicated to RGB; RGB to gray with ITU-R 601
// weights); resizing with PIL's antialiased bilinear filter (a triangle
// stretched by the scale when shrinking) in PIL's own 8-bit fixed point, so
// the pixels are PIL's, bit for bit (tests/image_file_test.cpp).
#include <cstdint>
#include <vector>

#include "engine/image_file.h"

namespace cnne {

// image -> (channels, height, width) U8, planar like CIFAR-10's records.
// channels is 1 or 3.
std::vector<uint8_t> to_network_input(const DecodedImage& image, int64_t channels, int64_t height,
                                      int64_t width);

// One plane (in_h, in_w) U8 -> (out_h, out_w) U8 with PIL's bilinear
// resampling: horizontally into 8 bits, then vertically.
std::vector<uint8_t> resize_plane(const std::vector<uint8_t>& plane, int64_t in_h, int64_t in_w,
                                  int64_t out_h, int64_t out_w);

}  // namespace cnne
