#include "cuda/plans.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace cnne::cuda {

size_t ConvPlan::workspace_bytes() const {
  return std::max({forward_bytes, backward_data_bytes, backward_filter_bytes});
}

cudnnDataType_t cudnn_data_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDNN_DATA_FLOAT;
    case DType::BF16:
      return CUDNN_DATA_BFLOAT16;
    case DType::F16:
      return CUDNN_DATA_HALF;
    default:
      throw Error(std::string("cuDNN: tensor is ") + dtype_name(t) + ", expected F32, BF16 or F16");
  }
}

void require_dtype(DType t, std::initializer_list<const Tensor*> tensors, const std::string& what) {
  for (const Tensor* x : tensors)
    if (x->dtype != t)
      throw Error(what + ": a tensor is " + dtype_name(x->dtype) + " where " + dtype_name(t) +
                  " was expected (shape " + x->shape.str() + ")");
}

}  // namespace cnne::cuda
