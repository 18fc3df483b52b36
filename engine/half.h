#pragma once
// 16-bit floats on the host: bfloat16 (8-bit exponent, 7-bit mantissa) and
// IEEE binary16 (5-bit exponent, 10-bit mantissa), stored as uint16_t.
// Narrowing rounds to nearest, ties to even, like the GPU's
// __float2bfloat16_rn / __float2half_rn; NaN stays a (quiet) NaN, values past
// the largest finite one become infinity. Widening is exact.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace cnne {

uint16_t float_to_bf16(float v);
float bf16_to_float(uint16_t h);
uint16_t float_to_f16(float v);
float f16_to_float(uint16_t h);

// Elementwise over `count` elements: src of dtype `from`, dst of dtype `to`,
// each F32, BF16 or F16 (host memory). Rounds as above when narrowing.
void convert_host(const void* src, DType from, void* dst, DType to, size_t count);
// dst = src for host tensors of equal shape, any float dtypes and either
// layout (Note [channels last]: between layouts each element moves to its
// place in the other); cpu::convert.
void convert_tensor_host(const Tensor& src, const Tensor& dst);

// A host F32 copy of a float tensor (F32, BF16 or F16) on any device.
std::vector<float> download_f32(const Tensor& t);
// Writes host F32 values into a float tensor on any device, rounding to its dtype.
void upload_f32(const std::vector<float>& host, const Tensor& t);

}  // namespace cnne
