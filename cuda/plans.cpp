#include "cuda/plans.h"

#include <algorithm>

namespace cnne::cuda {

size_t ConvPlan::workspace_bytes() const {
  return std::max({forward_bytes, backward_data_bytes, backward_filter_bytes});
}

}  // namespace cnne::cuda
