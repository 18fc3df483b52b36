#include "layers/activation.h"

#include <cmath>
#include <sstream>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {
namespace {

// The key a parameterized activation takes, or null.
const char* param_key(Activation kind) {
  switch (kind) {
    case Activation::kLeakyRelu:
      return "negative_slope";
    case Activation::kElu:
      return "alpha";
    default:
      return nullptr;
  }
}

// Python's repr of a float, as PyTorch's extra_repr prints it (0.01, 1.0, 0.2).
std::string python_float(double v) {
  std::ostringstream s;
  for (int digits = 1; digits <= 17; ++digits) {  // the shortest that reads back
    s.str("");
    s.precision(digits);
    s << v;
    if (std::stod(s.str()) == v) break;
  }
  std::string t = s.str();
  if (t.find_first_of(".en") == std::string::npos) t += ".0";
  return t;
}

}  // namespace

ActivationLayer::ActivationLayer(std::string name, Activation kind, double param)
    : Layer(std::move(name)), kind_(kind), param_(param) {
  if (const char* key = param_key(kind_);
      key && !(std::isfinite(param_) && std::fabs(param_) <= 1e6))
    throw ConfigError(where() + ": " + key + " must be a finite number (|value| <= 1e6)");
}

std::unique_ptr<Layer> ActivationLayer::tanh_from_json(const std::string& name, JsonFields&) {
  return std::make_unique<ActivationLayer>(name, Activation::kTanh);
}
std::unique_ptr<Layer> ActivationLayer::sigmoid_from_json(const std::string& name, JsonFields&) {
  return std::make_unique<ActivationLayer>(name, Activation::kSigmoid);
}
std::unique_ptr<Layer> ActivationLayer::leaky_relu_from_json(const std::string& name,
                                                             JsonFields& f) {
  return std::make_unique<ActivationLayer>(name, Activation::kLeakyRelu,
                                           f.get_number("negative_slope", 0.01));
}
std::unique_ptr<Layer> ActivationLayer::elu_from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<ActivationLayer>(name, Activation::kElu, f.get_number("alpha", 1.0));
}
std::unique_ptr<Layer> ActivationLayer::silu_from_json(const std::string& name, JsonFields&) {
  return std::make_unique<ActivationLayer>(name, Activation::kSilu);
}
std::unique_ptr<Layer> ActivationLayer::gelu_from_json(const std::string& name, JsonFields& f) {
  const std::string approximate = f.get_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    throw ConfigError(f.where() + ": key 'approximate' is '" + approximate +
                      "', expected none or tanh");
  return std::make_unique<ActivationLayer>(
      name, approximate == "tanh" ? Activation::kGeluTanh : Activation::kGelu);
}

std::string ActivationLayer::type() const {
  switch (kind_) {
    case Activation::kTanh:
      return "tanh";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kLeakyRelu:
      return "leaky_relu";
    case Activation::kElu:
      return "elu";
    case Activation::kSilu:
      return "silu";
    case Activation::kGelu:
    case Activation::kGeluTanh:
      return "gelu";
  }
  return "activation";
}

void ActivationLayer::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::activation_forward(ctx, kind_, static_cast<float>(param_), x, y);
}

void ActivationLayer::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                               const Tensor* dx) {
  if (dx) ops::activation_backward(ctx, kind_, static_cast<float>(param_), x, y, dy, *dx);
}

nlohmann::json ActivationLayer::to_json() const {
  nlohmann::json j = {{"type", type()}, {"name", name()}};
  if (const char* key = param_key(kind_)) j[key] = param_;
  if (kind_ == Activation::kGeluTanh) j["approximate"] = "tanh";
  return j;
}

std::string ActivationLayer::repr() const {
  switch (kind_) {
    case Activation::kTanh:
      return "Tanh()";
    case Activation::kSigmoid:
      return "Sigmoid()";
    case Activation::kLeakyRelu:
      return "LeakyReLU(negative_slope=" + python_float(param_) + ")";
    case Activation::kElu:
      return "ELU(alpha=" + python_float(param_) + ")";
    case Activation::kSilu:
      return "SiLU()";
    case Activation::kGelu:
      return "GELU(approximate='none')";
    case Activation::kGeluTanh:
      return "GELU(approximate='tanh')";
  }
  return type();
}

}  // namespace cnne
