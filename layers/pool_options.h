#pragma once
// What MaxPool2d and AvgPool2d share: reading and checking kernel_size,
// stride (default: the kernel) and padding, the output shape, the JSON, and
// PyTorch's int-or-tuple printing.
#include <string>

#include <nlohmann/json.hpp>

#include "engine/json_fields.h"
#include "engine/ops.h"
#include "engine/shape.h"

namespace cnne {

Pool2dParams read_pool_params(JsonFields& fields);
// Throws ConfigError starting with `where` unless the window is valid.
void check_pool_params(const Pool2dParams& p, const std::string& where);
// (N, C, P, Q) for input (N, C, H, W); ConfigError when the input is too small.
Shape pooled_shape(const Pool2dParams& p, const Shape& in, const std::string& where);
nlohmann::json pool_params_json(const Pool2dParams& p, const std::string& type,
                                const std::string& name);
// PyTorch prints an int when both sides agree, a tuple otherwise.
std::string int_or_pair(int64_t a, int64_t b);

}  // namespace cnne
