#include "engine/onnx_export.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/protobuf_writer.h"
#include "layers/activation.h"
#include "layers/activation_math.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/groupnorm.h"
#include "layers/linear.h"
#include "layers/pool2d.h"

namespace cnne {
namespace {

// onnx.proto's numbers: versions, TensorProto.DataType and AttributeProto.AttributeType.
constexpr int64_t kIrVersion = 7;  // the IR of opset 13
constexpr int64_t kOpset = 13;
constexpr int64_t kFloatType = 1, kInt64Type = 7;
constexpr int64_t kAttributeFloat = 1, kAttributeInt = 2, kAttributeInts = 7;

// An attribute (AttributeProto: name 1, f 2, i 3, ints 8, type 20).
ProtobufWriter int_attribute(const std::string& name, int64_t value) {
  ProtobufWriter a;
  a.string_field(1, name);
  a.varint_field(3, value);
  a.varint_field(20, kAttributeInt);
  return a;
}

ProtobufWriter float_attribute(const std::string& name, double value) {
  ProtobufWriter a;
  a.string_field(1, name);
  a.float_field(2, static_cast<float>(value));
  a.varint_field(20, kAttributeFloat);
  return a;
}

ProtobufWriter ints_attribute(const std::string& name, const std::vector<int64_t>& values) {
  ProtobufWriter a;
  a.string_field(1, name);
  for (int64_t v : values) a.varint_field(8, v);
  a.varint_field(20, kAttributeInts);
  return a;
}

// A float tensor's ValueInfoProto (name 1, type 2 -> TypeProto.tensor_type 1 ->
// elem_type 1, shape 2 -> dim 1 -> dim_value 1 or dim_param 2); dims < 0 are "N".
ProtobufWriter value_info(const std::string& name, const std::vector<int64_t>& dims) {
  ProtobufWriter shape;
  for (int64_t d : dims) {
    ProtobufWriter dim;
    if (d < 0)
      dim.string_field(2, "N");
    else
      dim.varint_field(1, d);
    shape.message_field(1, dim);
  }
  ProtobufWriter tensor;
  tensor.varint_field(1, kFloatType);
  tensor.message_field(2, shape);
  ProtobufWriter type;
  type.message_field(1, tensor);
  ProtobufWriter info;
  info.string_field(1, name);
  info.message_field(2, type);
  return info;
}

// The graph as it is written: nodes in order, initializers, unique value names.
class GraphBuilder {
 public:
  // Node `op` reading `inputs`, writing one output named `output`.
  void node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
            const std::string& output, const std::vector<ProtobufWriter>& attributes = {}) {
    ProtobufWriter n;  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
    for (const std::string& in : inputs) n.string_field(1, in);
    n.string_field(2, output);
    n.string_field(3, name);
    n.string_field(4, op);
    for (const ProtobufWriter& a : attributes) n.message_field(5, a);
    graph_.message_field(1, n);
  }
  // An initializer (TensorProto: dims 1, data_type 2, name 8, raw_data 9, little-endian floats).
  void initializer(const std::string& name, const std::vector<int64_t>& dims, const float* values,
                   int64_t count) {
    ProtobufWriter t;
    for (int64_t d : dims) t.varint_field(1, d);
    t.varint_field(2, kFloatType);
    t.string_field(8, name);
    std::vector<uint8_t> raw(static_cast<size_t>(count) * 4);
    for (int64_t i = 0; i < count; ++i) {
      uint32_t bits = 0;
      std::memcpy(&bits, &values[i], 4);
      for (int b = 0; b < 4; ++b)
        raw[static_cast<size_t>(i * 4 + b)] = static_cast<uint8_t>(bits >> (8 * b));
    }
    t.bytes_field(9, raw);
    initializers_.push_back(std::move(t));
  }
  // A rank-1 INT64 constant (a Reshape's shape), named `wanted` or a variant.
  std::string int64s(const std::string& wanted, const std::vector<int64_t>& values) {
    const std::string name = unique(wanted);
    ProtobufWriter t;
    t.varint_field(1, static_cast<int64_t>(values.size()));
    t.varint_field(2, kInt64Type);
    t.string_field(8, name);
    std::vector<uint8_t> raw;
    for (int64_t v : values)
      for (int b = 0; b < 8; ++b)
        raw.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * b)));
    t.bytes_field(9, raw);
    initializers_.push_back(std::move(t));
    return name;
  }
  // A rank-1 float constant of `count` copies of `value`.
  std::string filled(const std::string& wanted, int64_t count, float value) {
    const std::string name = unique(wanted);
    const std::vector<float> values(static_cast<size_t>(count), value);
    initializer(name, {count}, values.data(), count);
    return name;
  }
  // A rank-0 constant named `name`.
  std::string scalar(const std::string& wanted, double value) {
    const auto v = static_cast<float>(value);
    const std::string name = unique(wanted);
    initializer(name, {}, &v, 1);
    return name;
  }
  // `wanted`, or wanted_1, wanted_2, ... when a value already has that name.
  std::string unique(const std::string& wanted) {
    std::string name = wanted;
    for (int i = 1; !names_.insert(name).second; ++i) name = wanted + "_" + std::to_string(i);
    return name;
  }

  ProtobufWriter finish(const std::string& name, const ProtobufWriter& input,
                        const ProtobufWriter& output) {
    graph_.string_field(2, name);  // GraphProto: node 1, name 2, initializer 5, input 11, output 12
    for (const ProtobufWriter& t : initializers_) graph_.message_field(5, t);
    graph_.message_field(11, input);
    graph_.message_field(12, output);
    return graph_;
  }

 private:
  ProtobufWriter graph_;
  std::vector<ProtobufWriter> initializers_;
  std::set<std::string> names_;
};

std::vector<int64_t> dims_of(const Shape& s) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}

}  // namespace

std::vector<uint8_t> export_onnx(const Network& net, const std::vector<float>& parameters,
                                 const std::vector<float>& buffers, const OnnxNormalize& normalize,
                                 const std::string& producer_version, const std::string& doc) {
  if (static_cast<int64_t>(parameters.size()) < net.parameter_count())
    throw Error("export_onnx: " + std::to_string(parameters.size()) +
                " parameter values for a network of " + std::to_string(net.parameter_count()));
  std::map<std::string, const NamedParam*> tensors;  // parameters, then buffers, by name
  std::map<std::string, const float*> data;
  for (const NamedParam& p : net.parameters()) {
    tensors[p.name] = &p;
    data[p.name] = parameters.data() + p.offset;
  }
  for (const NamedParam& b : net.buffers()) {
    if (static_cast<size_t>(b.offset + b.shape.numel()) > buffers.size())
      throw Error("export_onnx: the buffers end before " + b.name);
    tensors[b.name] = &b;
    data[b.name] = buffers.data() + b.offset;
  }
  GraphBuilder g;
  // The initializer of a layer's tensor: its state_dict name, unless a value already took it.
  auto tensor = [&](const std::string& name) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw Error("export_onnx: the network has no tensor " + name);
    const std::string unique = g.unique(name);
    g.initializer(unique, dims_of(it->second->shape), data[name], it->second->shape.numel());
    return unique;
  };

  const Shape input = net.input_shape();  // (C, H, W)
  std::vector<int64_t> input_dims{-1};
  for (int i = 0; i < input.rank(); ++i) input_dims.push_back(input[i]);
  std::vector<std::string> values(net.layer_count() + 1);  // per node: its value's name
  values[0] = g.unique("input");
  if (!normalize.mean.empty()) {  // (x - mean) / std, per channel, as Normalize does
    const int64_t c = input[0];
    if (static_cast<int64_t>(normalize.mean.size()) != c ||
        static_cast<int64_t>(normalize.std.size()) != c)
      throw Error("export_onnx: normalize needs " + std::to_string(c) + " means and stds");
    std::vector<float> mean(normalize.mean.begin(), normalize.mean.end());
    std::vector<float> stdev(normalize.std.begin(), normalize.std.end());
    const std::string m = g.unique("normalize.mean"), s = g.unique("normalize.std");
    g.initializer(m, {1, c, 1, 1}, mean.data(), c);
    g.initializer(s, {1, c, 1, 1}, stdev.data(), c);
    const std::string centered = g.unique("normalize/sub");
    g.node("Sub", "normalize/sub", {values[0], m}, centered);
    const std::string scaled = g.unique("normalize/div");
    g.node("Div", "normalize/div", {centered, s}, scaled);
    values[0] = scaled;
  }
  const std::vector<LayerSummary> rows = net.summarize(1);
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const Layer& layer = net.layer(i);
    const std::string& name = layer.name();
    const std::string type = layer.type();
    std::vector<std::string> in;
    for (size_t node : net.layer_inputs(i)) in.push_back(values[node]);
    const bool last = i + 1 == net.layer_count();
    const std::string out = g.unique(last ? "logits" : name);
    values[i + 1] = out;
    // A step of a layer made of several nodes: "<layer>/<what>".
    auto step = [&](const std::string& op, const std::string& what,
                    const std::vector<std::string>& inputs) {
      const std::string v = g.unique(name + "/" + what);
      g.node(op, name + "/" + what, inputs, v);
      return v;
    };
    if (type == "conv2d") {
      const auto& o = dynamic_cast<const Conv2d&>(layer).options();
      const Conv2dParams& p = o.params;
      std::vector<std::string> inputs{in[0], tensor(name + ".weight")};
      if (o.bias) inputs.push_back(tensor(name + ".bias"));
      g.node("Conv", name, inputs, out,
             {ints_attribute("kernel_shape", {o.kernel_h, o.kernel_w}),
              ints_attribute("strides", {p.stride_h, p.stride_w}),
              ints_attribute("pads", {p.pad_h, p.pad_w, p.pad_h, p.pad_w}),
              ints_attribute("dilations", {p.dilation_h, p.dilation_w}),
              int_attribute("group", p.groups)});
    } else if (type == "maxpool2d" || type == "avgpool2d") {
      const Pool2dParams& p = dynamic_cast<const Pool2d&>(layer).params();
      std::vector<ProtobufWriter> attributes{
          ints_attribute("kernel_shape", {p.kernel_h, p.kernel_w}),
          ints_attribute("strides", {p.stride_h, p.stride_w}),
          ints_attribute("pads", {p.pad_h, p.pad_w, p.pad_h, p.pad_w})};
      if (type == "avgpool2d")
        attributes.push_back(int_attribute("count_include_pad", p.count_include_pad ? 1 : 0));
      g.node(type == "maxpool2d" ? "MaxPool" : "AveragePool", name, in, out, attributes);
    } else if (type == "global_avgpool2d") {
      g.node("GlobalAveragePool", name, in, out);
    } else if (type == "batchnorm2d" || type == "batchnorm1d") {
      const auto& bn = dynamic_cast<const BatchNorm&>(layer);
      g.node("BatchNormalization", name,
             {in[0], tensor(name + ".weight"), tensor(name + ".bias"),
              tensor(name + ".running_mean"), tensor(name + ".running_var")},
             out, {float_attribute("epsilon", bn.eps())});
    } else if (type == "instancenorm2d") {  // its own node; ones and zeros without affine
      const auto& norm = dynamic_cast<const GroupNorm&>(layer);
      const int64_t c = rows[i].output[1];
      g.node("InstanceNormalization", name,
             {in[0], norm.affine() ? tensor(name + ".weight") : g.filled(name + "/ones", c, 1.0f),
              norm.affine() ? tensor(name + ".bias") : g.filled(name + "/zeros", c, 0.0f)},
             out, {float_attribute("epsilon", norm.eps())});
    } else if (type == "groupnorm" || type == "layernorm") {
      // (N, C, ...) as (N, G, C / G * ...): InstanceNormalization of each (n, g),
      // then back to (N, C, ...) and the per-channel weight and bias, as
      // torch.onnx exports GroupNorm below opset 18.
      const auto& norm = dynamic_cast<const GroupNorm&>(layer);
      const std::vector<int64_t> dims = dims_of(rows[i].output);  // (1, C, H, W) or (1, C)
      const int64_t groups = norm.groups(), c = dims[1];
      const std::string grouped =
          step("Reshape", "group", {in[0], g.int64s(name + "/group_shape", {0, groups, -1})});
      const std::string normalized = g.unique(name + "/normalize");
      g.node("InstanceNormalization", name + "/normalize",
             {grouped, g.filled(name + "/ones", groups, 1.0f),
              g.filled(name + "/zeros", groups, 0.0f)},
             normalized, {float_attribute("epsilon", norm.eps())});
      std::vector<int64_t> back{0};
      back.insert(back.end(), dims.begin() + 1, dims.end());
      const std::string back_shape = g.int64s(name + "/shape", back);
      if (!norm.affine()) {
        g.node("Reshape", name, {normalized, back_shape}, out);
      } else {
        const std::string shaped = step("Reshape", "ungroup", {normalized, back_shape});
        std::vector<int64_t> per_channel{c};  // (C, 1, 1) broadcasts over (N, C, H, W)
        per_channel.insert(per_channel.end(), dims.size() - 2, 1);
        const std::string channel_shape = g.int64s(name + "/channel_shape", per_channel);
        const std::string weight =
            step("Reshape", "weight", {tensor(name + ".weight"), channel_shape});
        const std::string bias = step("Reshape", "bias", {tensor(name + ".bias"), channel_shape});
        g.node("Add", name, {step("Mul", "scale", {shaped, weight}), bias}, out);
      }
    } else if (type == "relu") {
      g.node("Relu", name, in, out);
    } else if (type == "dropout" || type == "dropout2d") {
      g.node("Identity", name, in, out);  // evaluation mode
    } else if (type == "add") {
      g.node("Add", name, in, out);
    } else if (type == "prelu") {
      // PRelu broadcasts the slope from the last dimension: (C) becomes (C, 1, 1) on maps.
      std::string slope = tensor(name + ".weight");
      const Shape& out_shape = rows[i].output;
      const int64_t slopes = net.parameters()[net.first_parameter_of(i)].shape[0];
      if (out_shape.rank() == 4 && slopes > 1)
        slope = step("Reshape", "slope", {slope, g.int64s(name + "/slope_shape", {slopes, 1, 1})});
      g.node("PRelu", name, {in[0], slope}, out);
    } else if (type == "mul") {
      // ONNX broadcasts from the last dimension: an (N, C) gate of an
      // (N, C, H, W) map becomes (N, C, 1, 1) first.
      const std::vector<size_t>& nodes = net.layer_inputs(i);
      std::vector<std::string> factors = in;
      for (size_t j = 0; j < 2; ++j) {
        const int rank = nodes[j] == 0 ? 4 : rows[nodes[j] - 1].output.rank();
        if (rank == 2 && rows[i].output.rank() == 4)
          factors[j] = step("Unsqueeze", "unsqueeze", {in[j], g.int64s(name + "/axes", {2, 3})});
      }
      g.node("Mul", name, factors, out);
    } else if (type == "concat") {
      g.node("Concat", name, in, out, {int_attribute("axis", 1)});
    } else if (type == "flatten") {
      g.node("Flatten", name, in, out, {int_attribute("axis", 1)});
    } else if (type == "linear") {
      const auto& linear = dynamic_cast<const Linear&>(layer);  // its input is (N, I)
      std::vector<std::string> inputs{in[0], tensor(name + ".weight")};
      if (linear.has_bias()) inputs.push_back(tensor(name + ".bias"));
      g.node("Gemm", name, inputs, out, {int_attribute("transB", 1)});
    } else if (const auto* act = dynamic_cast<const ActivationLayer*>(&layer)) {
      const std::string x = in[0];
      switch (act->kind()) {
        case Activation::kTanh:
          g.node("Tanh", name, in, out);
          break;
        case Activation::kSigmoid:
          g.node("Sigmoid", name, in, out);
          break;
        case Activation::kLeakyRelu:
          g.node("LeakyRelu", name, in, out, {float_attribute("alpha", act->param())});
          break;
        case Activation::kElu:
          g.node("Elu", name, in, out, {float_attribute("alpha", act->param())});
          break;
        case Activation::kSilu:  // x * sigmoid(x)
          g.node("Mul", name, {x, step("Sigmoid", "sigmoid", {x})}, out);
          break;
        case Activation::kGelu: {  // x * 0.5 * (1 + erf(x / sqrt(2)))
          const std::string e = step(
              "Erf", "erf", {step("Div", "div", {x, g.scalar(name + "/sqrt2", std::sqrt(2.0))})});
          const std::string half = step("Mul", "half",
                                        {step("Add", "add", {e, g.scalar(name + "/one", 1.0)}),
                                         g.scalar(name + "/0.5", 0.5)});
          g.node("Mul", name, {x, half}, out);
          break;
        }
        case Activation::kGeluTanh: {  // x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
          const std::string cube = step("Mul", "cube", {step("Mul", "square", {x, x}), x});
          const std::string inner =
              step("Add", "inner",
                   {x, step("Mul", "cubic", {cube, g.scalar(name + "/0.044715", 0.044715)})});
          const std::string t =
              step("Tanh", "tanh",
                   {step("Mul", "scaled",
                         {inner, g.scalar(name + "/sqrt_2_over_pi", std::sqrt(2.0 / M_PI))})});
          const std::string half = step("Mul", "half",
                                        {step("Add", "add", {t, g.scalar(name + "/one", 1.0)}),
                                         g.scalar(name + "/0.5", 0.5)});
          g.node("Mul", name, {x, half}, out);
          break;
        }
        case Activation::kRelu6:  // torch.onnx: Clip(0, 6)
          g.node("Clip", name, {x, g.scalar(name + "/min", 0.0), g.scalar(name + "/max", 6.0)},
                 out);
          break;
        case Activation::kHardsigmoid:
          g.node("HardSigmoid", name, in, out,
                 {float_attribute("alpha", 1.0 / 6.0), float_attribute("beta", 0.5)});
          break;
        case Activation::kHardswish: {  // opset 13 has no HardSwish (14 does): x * HardSigmoid(x)
          const std::string gate = g.unique(name + "/hardsigmoid");
          g.node("HardSigmoid", name + "/hardsigmoid", in, gate,
                 {float_attribute("alpha", 1.0 / 6.0), float_attribute("beta", 0.5)});
          g.node("Mul", name, {x, gate}, out);
          break;
        }
        case Activation::kSelu:  // ONNX's defaults are SELU's constants; written out anyway
          g.node("Selu", name, in, out,
                 {float_attribute("alpha", kSeluAlpha), float_attribute("gamma", kSeluScale)});
          break;
        case Activation::kMish:  // opset 13 has no Mish (18 does): x * tanh(softplus(x))
          g.node("Mul", name, {x, step("Tanh", "tanh", {step("Softplus", "softplus", {x})})}, out);
          break;
      }
    } else {
      throw ConfigError("export: layer '" + name + "' (" + type + ") has no ONNX form here");
    }
  }
  const Shape logits = rows.back().output;  // (1, classes)
  std::vector<int64_t> output_dims{-1};
  for (int d = 1; d < logits.rank(); ++d) output_dims.push_back(logits[d]);
  const ProtobufWriter graph =
      g.finish(net.name(), value_info("input", input_dims), value_info(values.back(), output_dims));

  ProtobufWriter opset;  // OperatorSetIdProto: domain 1 (the default ""), version 2
  opset.varint_field(2, kOpset);
  ProtobufWriter model;  // ModelProto: ir_version 1, producer 2-3, doc 6, graph 7, opset_import 8
  model.varint_field(1, kIrVersion);
  model.string_field(2, "cnnengine");
  if (!producer_version.empty()) model.string_field(3, producer_version);
  if (!doc.empty()) model.string_field(6, doc);
  model.message_field(7, graph);
  model.message_field(8, opset);
  return model.bytes();
}

}  // namespace cnne
