#include "engine/tensor.h"

#include <string>

#include "engine/error.h"

namespace cnne {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::U8:
      return 1;
    case DType::I64:
      return 8;
    case DType::BF16:
    case DType::F16:
      return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::I32:
      return "I32";
    case DType::U8:
      return "U8";
    case DType::I64:
      return "I64";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
  }
  return "?";
}

float* Tensor::f32() const {
  if (dtype != DType::F32) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not F32");
  return static_cast<float*>(data);
}

int32_t* Tensor::i32() const {
  if (dtype != DType::I32) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not I32");
  return static_cast<int32_t*>(data);
}

uint8_t* Tensor::u8() const {
  if (dtype != DType::U8) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not U8");
  return static_cast<uint8_t*>(data);
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > numel())
    throw Error("cannot slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") of a tensor of shape " + shape.str());
  Tensor t = *this;
  t.data = static_cast<uint8_t*>(data) + static_cast<size_t>(begin) * dtype_size(dtype);
  t.shape = Shape{end - begin};
  t.channels_last = false;  // a flat run of the memory
  return t;
}

Tensor Tensor::reshaped(Shape s) const {
  if (s.numel() != numel())
    throw Error("cannot view a tensor of shape " + shape.str() + " as " + s.str());
  if (channels_last)
    throw Error("cannot view a channels-last tensor of shape " + shape.str() + " as " + s.str() +
                " (its memory is (N, H, W, C))");
  Tensor t = *this;
  t.shape = s;
  return t;
}

Tensor Tensor::with_channels_last(bool on) const {
  Tensor t = *this;
  t.channels_last = on && shape.rank() == 4 && shape[2] * shape[3] > 1;
  return t;
}

}  // namespace cnne
