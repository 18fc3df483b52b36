#include "engine/half.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

#include "engine/buffer.h"
#include "engine/error.h"

namespace cnne {

uint16_t float_to_bf16(float v) {
  uint32_t bits = std::bit_cast<uint32_t>(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u)  // NaN: keep sign and top payload, make it quiet
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_to_float(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

uint16_t float_to_f16(float v) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds past 65504: infinity
  if (abs < 0x38800000u) {                        // below 2^-14: a subnormal (or zero)
    if (abs <= 0x33000000u) return sign;  // at most 2^-25, half the smallest subnormal: to zero
    // The subnormal's integer mantissa is |v| / 2^-24 = m * 2^(e - 126), with
    // m the 24-bit significand and e the biased exponent (102..112): shift
    // right by 126 - e (14..24) and round to nearest, ties to even. 1024, the
    // result for the largest inputs, is the smallest normal's code.
    const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - (abs >> 23);
    uint32_t h = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return sign | static_cast<uint16_t>(h);
  }
  const uint32_t exponent = (abs >> 23) - 127 + 15;
  const uint32_t mantissa = abs & 0x7fffffu;
  uint32_t h = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent
  return sign | static_cast<uint16_t>(h);
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

namespace {

#if defined(__F16C__) && defined(__AVX__)
// The x86 F16C instructions convert 8 values at a time with IEEE rounding
// (round to nearest even, as float_to_f16; a test holds them to it).
void narrow_f16(const float* in, uint16_t* out, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < count; ++i) out[i] = float_to_f16(in[i]);
}

void widen_f16(const uint16_t* in, float* out, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < count; ++i) out[i] = f16_to_float(in[i]);
}
#else
void narrow_f16(const float* in, uint16_t* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = float_to_f16(in[i]);
}

void widen_f16(const uint16_t* in, float* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = f16_to_float(in[i]);
}
#endif

template <class Narrow>
void narrow_all(const float* in, uint16_t* out, size_t count, Narrow narrow) {
  for (size_t i = 0; i < count; ++i) out[i] = narrow(in[i]);
}

template <class Widen>
void widen_all(const uint16_t* in, float* out, size_t count, Widen widen) {
  for (size_t i = 0; i < count; ++i) out[i] = widen(in[i]);
}

}  // namespace

void convert_host(const void* src, DType from, void* dst, DType to, size_t count) {
  for (DType t : {from, to})
    if (t != DType::F32 && !is_half(t))
      throw Error(std::string("convert: ") + dtype_name(t) + " is not a float type");
  if (count == 0) return;
  if (from == to) {
    std::memcpy(dst, src, count * dtype_size(from));
    return;
  }
  if (from != DType::F32 && to != DType::F32) {  // BF16 <-> F16 through F32
    std::vector<float> wide(count);              // (count) F32
    convert_host(src, from, wide.data(), DType::F32, count);
    convert_host(wide.data(), DType::F32, dst, to, count);
    return;
  }
  if (from == DType::F32) {
    const auto* in = static_cast<const float*>(src);
    auto* out = static_cast<uint16_t*>(dst);
    if (to == DType::BF16)
      narrow_all(in, out, count, float_to_bf16);
    else
      narrow_f16(in, out, count);
    return;
  }
  const auto* in = static_cast<const uint16_t*>(src);
  auto* out = static_cast<float*>(dst);
  if (from == DType::BF16)
    widen_all(in, out, count, bf16_to_float);
  else
    widen_f16(in, out, count);
}

std::vector<float> download_f32(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));  // (numel) F32
  if (t.dtype == DType::F32) {
    copy_tensor(t, Tensor(out.data(), t.shape));
    return out;
  }
  std::vector<uint16_t> raw(out.size());  // (numel) 16-bit
  Tensor host = t;
  host.data = raw.data();
  host.device = Device::CPU;
  copy_tensor(t, host);
  convert_host(raw.data(), t.dtype, out.data(), DType::F32, out.size());
  return out;
}

void upload_f32(const std::vector<float>& host, const Tensor& t) {
  if (static_cast<int64_t>(host.size()) != t.numel())
    throw Error("upload_f32: " + std::to_string(host.size()) + " values for a tensor of shape " +
                t.shape.str());
  if (t.dtype == DType::F32) {
    copy_tensor(Tensor(const_cast<float*>(host.data()), t.shape), t);
    return;
  }
  std::vector<uint16_t> raw(host.size());  // (numel) 16-bit
  convert_host(host.data(), DType::F32, raw.data(), t.dtype, raw.size());
  Tensor source = t;
  source.data = raw.data();
  source.device = Device::CPU;
  copy_tensor(source, t);
}

}  // namespace cnne
