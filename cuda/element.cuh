#pragma once
// Element types of GPU kernels (Note [mixed precision] in engine/precision.h):
// activations are float, __nv_bfloat16 or __half; kernels load them as float,
// compute in float and round once on store (round to nearest, ties to even,
// like the CPU reference's engine/half.h). with_float_type() turns a tensor's
// runtime DType into the kernel's template argument.
#include <string>

#include "cuda/device_api.cuh"
#include "engine/error.h"
#include "engine/tensor.h"

namespace cnne::cuda {

__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
__device__ __forceinline__ float to_float(__half v) {
  return __half2float(v);
}

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

template <class T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with T the element type of dtype `t` (F32, BF16, F16);
// throws naming `what` for any other dtype.
template <class F>
void with_float_type(DType t, const std::string& what, F&& f) {
  switch (t) {
    case DType::F32:
      f(TypeTag<float>{});
      return;
    case DType::BF16:
      f(TypeTag<__nv_bfloat16>{});
      return;
    case DType::F16:
      f(TypeTag<__half>{});
      return;
    default:
      throw Error(what + ": tensor is " + dtype_name(t) + ", expected F32, BF16 or F16");
  }
}

// The element pointer of a float tensor of element type T.
template <class T>
T* elements(const Tensor& t) {
  return static_cast<T*>(t.data);
}

}  // namespace cnne::cuda
