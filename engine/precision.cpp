#include "engine/precision.h"

namespace cnne {

DType activation_dtype(Precision p) {
  switch (p) {
    case Precision::BF16:
      return DType::BF16;
    case Precision::FP16:
      return DType::F16;
    case Precision::FP32:
      break;
  }
  return DType::F32;
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::BF16:
      return "bf16";
    case Precision::FP16:
      return "fp16";
    case Precision::FP32:
      break;
  }
  return "fp32";
}

bool parse_precision(const std::string& text, Precision& out) {
  for (Precision p : {Precision::FP32, Precision::BF16, Precision::FP16})
    if (text == precision_name(p)) {
      out = p;
      return true;
    }
  return false;
}

}  // namespace cnne
