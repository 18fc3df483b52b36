#include "engine/param_init.h"

#include <cmath>

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {
namespace {

using Kind = ParamInit::Kind;

const char* const kTypes =
    "kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal, normal, trunc_normal, "
    "uniform, constant, zeros or ones";

bool parse_kind(const std::string& name, ParamInit& p) {
  if (name == "kaiming_uniform") {
    p.kind = Kind::kKaimingUniform;
  } else if (name == "kaiming_normal") {
    p.kind = Kind::kKaimingNormal;
  } else if (name == "xavier_uniform") {
    p.kind = Kind::kXavierUniform;
  } else if (name == "xavier_normal") {
    p.kind = Kind::kXavierNormal;
  } else if (name == "normal") {
    p.kind = Kind::kNormal;
  } else if (name == "trunc_normal") {
    p.kind = Kind::kTruncNormal;
    p.a = -2.0;
    p.b = 2.0;
  } else if (name == "uniform") {
    p.kind = Kind::kUniform;
    p.a = 0.0;
    p.b = 1.0;
  } else if (name == "constant" || name == "zeros" || name == "ones") {
    p.kind = Kind::kConstant;
    p.val = name == "ones" ? 1.0 : 0.0;
  } else {
    return false;
  }
  p.name = name;
  return true;
}

double finite(JsonFields& f, const std::string& key, double fallback) {
  const double v = f.get_number(key, fallback);
  if (!std::isfinite(v) || std::fabs(v) > 1e6)
    throw ConfigError(f.error(key, "must be a finite number (|value| <= 1e6)"));
  return v;
}

// Phi(x), the standard normal's distribution function.
double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

// One standard normal draw: Box-Muller on two 53-bit uniforms (the cosine
// branch only, so a draw is always two words of the generator).
double standard_normal(Rng& rng) {
  const double u1 = (static_cast<double>(rng.next_u64() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double uniform(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53);
}

}  // namespace

bool ParamInit::needs_fans() const {
  return kind == Kind::kKaimingUniform || kind == Kind::kKaimingNormal ||
         kind == Kind::kXavierUniform || kind == Kind::kXavierNormal;
}

ParamInit parse_param_init(const nlohmann::json& value, const std::string& where) {
  ParamInit p;
  if (value.is_string()) {
    if (value.get<std::string>() == "constant")
      throw ConfigError(where +
                        ": 'constant' needs its value: {\"type\": \"constant\", \"val\": v}");
    if (!parse_kind(value.get<std::string>(), p))
      throw ConfigError(where + ": '" + value.get<std::string>() + "' is not an init (" + kTypes +
                        ")");
    return p;
  }
  if (!value.is_object())
    throw ConfigError(where + ": must be an init's name (" + std::string(kTypes) +
                      ") or an object with \"type\"");
  JsonFields f(value, where);
  const std::string type = f.get_string("type");
  if (!parse_kind(type, p))
    throw ConfigError(f.error("type", "'" + type + "' is not an init (" + kTypes + ")"));
  switch (p.kind) {
    case Kind::kKaimingUniform:
    case Kind::kKaimingNormal:
      p.a = finite(f, "a", p.a);
      p.mode = f.get_string("mode", p.mode);
      if (p.mode != "fan_in" && p.mode != "fan_out")
        throw ConfigError(f.error("mode", "is '" + p.mode + "', expected fan_in or fan_out"));
      p.nonlinearity = f.get_string("nonlinearity", p.nonlinearity);
      try {
        init_gain(p.nonlinearity, p.a);
      } catch (const ConfigError&) {
        throw ConfigError(f.error("nonlinearity", "is '" + p.nonlinearity +
                                                      "', expected linear, conv2d, sigmoid, "
                                                      "tanh, relu, leaky_relu or selu"));
      }
      break;
    case Kind::kXavierUniform:
    case Kind::kXavierNormal:
      p.gain = finite(f, "gain", p.gain);
      if (p.gain <= 0) throw ConfigError(f.error("gain", "must be > 0"));
      break;
    case Kind::kNormal:
    case Kind::kTruncNormal:
      p.mean = finite(f, "mean", p.mean);
      p.std = finite(f, "std", p.std);
      if (p.std <= 0) throw ConfigError(f.error("std", "must be > 0"));
      if (p.kind == Kind::kTruncNormal) {
        p.a = finite(f, "a", p.a);
        p.b = finite(f, "b", p.b);
        if (!(p.a < p.b)) throw ConfigError(f.error("b", "must be above a"));
        const double mass = normal_cdf((p.b - p.mean) / p.std) - normal_cdf((p.a - p.mean) / p.std);
        if (mass < 1e-3)
          throw ConfigError(f.error(
              "a", "[a, b] holds " + std::to_string(mass) +
                       " of the normal's mass; it must hold at least 0.001 (mean within a few std "
                       "of the interval)"));
      }
      break;
    case Kind::kUniform:
      p.a = finite(f, "a", p.a);
      p.b = finite(f, "b", p.b);
      if (!(p.a < p.b)) throw ConfigError(f.error("b", "must be above a"));
      break;
    case Kind::kConstant:
      if (type == "constant") {
        if (!f.has("val")) f.get_number("val");  // reports the missing key
        p.val = finite(f, "val", 0.0);
      }
      break;
  }
  f.finish();
  return p;
}

nlohmann::json param_init_json(const ParamInit& p) {
  nlohmann::json j = {{"type", p.name}};
  switch (p.kind) {
    case Kind::kKaimingUniform:
    case Kind::kKaimingNormal:
      j["a"] = p.a;
      j["mode"] = p.mode;
      j["nonlinearity"] = p.nonlinearity;
      break;
    case Kind::kXavierUniform:
    case Kind::kXavierNormal:
      j["gain"] = p.gain;
      break;
    case Kind::kNormal:
    case Kind::kTruncNormal:
      j["mean"] = p.mean;
      j["std"] = p.std;
      if (p.kind == Kind::kTruncNormal) {
        j["a"] = p.a;
        j["b"] = p.b;
      }
      break;
    case Kind::kUniform:
      j["a"] = p.a;
      j["b"] = p.b;
      break;
    case Kind::kConstant:
      if (p.name == "constant") j["val"] = p.val;
      break;
  }
  return j;
}

double init_gain(const std::string& nonlinearity, double a) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw ConfigError("nonlinearity '" + nonlinearity +
                    "' has no gain (linear, conv2d, sigmoid, tanh, relu, leaky_relu or selu)");
}

std::pair<int64_t, int64_t> init_fans(const Shape& shape) {
  if (shape.rank() < 2)
    throw Error("init_fans: a tensor of two or more dimensions, got " + shape.str());
  int64_t receptive = 1;
  for (int d = 2; d < shape.rank(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

void fill_param(Rng& rng, const ParamInit& p, const Tensor& t) {
  float* out = t.f32();
  const int64_t n = t.numel();
  double sigma = p.std;
  if (p.needs_fans()) {
    const auto [fan_in, fan_out] = init_fans(t.shape);
    if (p.kind == Kind::kKaimingUniform || p.kind == Kind::kKaimingNormal)
      sigma = init_gain(p.nonlinearity, p.a) /
              std::sqrt(static_cast<double>(p.mode == "fan_in" ? fan_in : fan_out));
    else
      sigma = p.gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  }
  const double bound = std::sqrt(3.0) * sigma;  // a uniform of that standard deviation
  for (int64_t i = 0; i < n; ++i) {
    double v = p.val;
    switch (p.kind) {
      case Kind::kKaimingUniform:
      case Kind::kXavierUniform:
        v = uniform(rng, -bound, bound);
        break;
      case Kind::kKaimingNormal:
      case Kind::kXavierNormal:
        v = sigma * standard_normal(rng);
        break;
      case Kind::kNormal:
        v = p.mean + p.std * standard_normal(rng);
        break;
      case Kind::kTruncNormal:  // rejection: [a, b] holds >= 0.1% of the mass (parse)
        do v = p.mean + p.std * standard_normal(rng);
        while (v < p.a || v > p.b);
        break;
      case Kind::kUniform:
        v = uniform(rng, p.a, p.b);
        break;
      case Kind::kConstant:
        break;
    }
    out[i] = static_cast<float>(v);
  }
}

}  // namespace cnne
