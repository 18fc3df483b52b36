#include "layers/activation.h"

#include <cmath>
#include <iterator>
#include <sstream>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {
namespace {

// What names an activation: its config type, PyTorch's module, the key of its
// parameter (and the parameter's default), the module's fixed arguments.
struct Naming {
  const char* type;
  const char* module;
  const char* key;  // null: no parameter
  double default_param;
  const char* fixed_args;
};

// Indexed by Activation.
constexpr Naming kNamings[] = {
    {"tanh", "Tanh", nullptr, 0.0, ""},
    {"sigmoid", "Sigmoid", nullptr, 0.0, ""},
    {"leaky_relu", "LeakyReLU", "negative_slope", 0.01, ""},
    {"elu", "ELU", "alpha", 1.0, ""},
    {"silu", "SiLU", nullptr, 0.0, ""},
    {"gelu", "GELU", nullptr, 0.0, "approximate='none'"},
    {"gelu", "GELU", nullptr, 0.0, "approximate='tanh'"},  // kGeluTanh
    {"relu6", "ReLU6", nullptr, 0.0, ""},
    {"hardsigmoid", "Hardsigmoid", nullptr, 0.0, ""},
    {"hardswish", "Hardswish", nullptr, 0.0, ""},
    {"mish", "Mish", nullptr, 0.0, ""},
    {"selu", "SELU", nullptr, 0.0, ""},
};

static_assert(std::size(kNamings) == static_cast<size_t>(Activation::kSelu) + 1,
              "one naming per Activation, in its order");

const Naming& naming(Activation kind) {
  return kNamings[static_cast<size_t>(kind)];
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

const char* activation_type(Activation kind) {
  return naming(kind).type;
}

ActivationLayer::ActivationLayer(std::string name, Activation kind, double param)
    : Layer(std::move(name)), kind_(kind), param_(param) {
  if (const char* key = naming(kind_).key;
      key && !(std::isfinite(param_) && std::fabs(param_) <= 1e6))
    throw ConfigError(where() + ": " + key + " must be a finite number (|value| <= 1e6)");
}

std::unique_ptr<Layer> ActivationLayer::from_json(Activation kind, const std::string& name,
                                                  JsonFields& f) {
  if (kind == Activation::kGelu || kind == Activation::kGeluTanh) {
    const std::string approximate = f.get_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
      throw ConfigError(f.where() + ": key 'approximate' is '" + approximate +
                        "', expected none or tanh");
    kind = approximate == "tanh" ? Activation::kGeluTanh : Activation::kGelu;
  }
  const Naming& n = naming(kind);
  return std::make_unique<ActivationLayer>(name, kind,
                                           n.key ? f.get_number(n.key, n.default_param) : 0.0);
}

std::string ActivationLayer::type() const {
  return naming(kind_).type;
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
  if (const char* key = naming(kind_).key) j[key] = param_;
  if (kind_ == Activation::kGeluTanh) j["approximate"] = "tanh";
  return j;
}

std::string ActivationLayer::repr() const {
  const Naming& n = naming(kind_);
  return std::string(n.module) + "(" +
         (n.key ? std::string(n.key) + "=" + python_float(param_) : std::string(n.fixed_args)) +
         ")";
}

}  // namespace cnne
