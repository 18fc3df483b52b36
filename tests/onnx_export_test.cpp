// ONNX export (engine/onnx_export.h, cnnengine export): the written ModelProto
// read back with a protobuf decoder of its own (field numbers from onnx.proto):
// versions, the graph's nodes, attributes, initializers holding the weights bit
// for bit, shapes, a graph in which every value is defined before it is read;
// the CLI's errors; and, where Python has onnx and onnxruntime
// ($CNNE_ONNX_PYTHON, else python3), ONNX Runtime's probabilities against
// cnnengine's (tools/check_onnx_export.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/onnx_export.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// One decoded message: each field's values, in order (varints and fixed32 as
// integers, length-delimited fields as bytes).
struct Message {
  std::multimap<int, uint64_t> numbers;
  std::multimap<int, std::string> bytes;

  std::vector<Message> messages(int field) const;
  std::string text(int field) const {
    const auto it = bytes.find(field);
    return it == bytes.end() ? "" : it->second;
  }
  std::vector<std::string> texts(int field) const {
    std::vector<std::string> out;
    for (auto [a, b] = bytes.equal_range(field); a != b; ++a) out.push_back(a->second);
    return out;
  }
  int64_t number(int field) const {
    const auto it = numbers.find(field);
    return it == numbers.end() ? -1 : static_cast<int64_t>(it->second);
  }
  std::vector<int64_t> ints(int field) const {
    std::vector<int64_t> out;
    for (auto [a, b] = numbers.equal_range(field); a != b; ++a)
      out.push_back(static_cast<int64_t>(a->second));
    return out;
  }
};

uint64_t read_varint(const std::string& s, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; at < s.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(s[at++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  throw std::runtime_error("truncated varint");
}

Message decode(const std::string& s) {
  Message m;
  for (size_t at = 0; at < s.size();) {
    const uint64_t key = read_varint(s, at);
    const int field = static_cast<int>(key >> 3);
    switch (key & 7) {
      case 0:
        m.numbers.emplace(field, read_varint(s, at));
        break;
      case 5: {
        uint32_t bits = 0;
        std::memcpy(&bits, s.data() + at, 4);
        at += 4;
        m.numbers.emplace(field, bits);
        break;
      }
      case 2: {
        const uint64_t n = read_varint(s, at);
        if (at + n > s.size()) throw std::runtime_error("truncated field");
        m.bytes.emplace(field, s.substr(at, n));
        at += n;
        break;
      }
      default:
        throw std::runtime_error("unexpected wire type " + std::to_string(key & 7));
    }
  }
  return m;
}

std::vector<Message> Message::messages(int field) const {
  std::vector<Message> out;
  for (const std::string& b : texts(field)) out.push_back(decode(b));
  return out;
}

float as_float(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f = 0;
  std::memcpy(&f, &b, 4);
  return f;
}

// The values of a rank-1 INT64 initializer (TensorProto: dims 1, data_type 2 =
// 7, raw_data 9 little-endian).
std::vector<int64_t> int64s(const Message& tensor) {
  EXPECT_EQ(tensor.number(2), 7) << tensor.text(8);
  const std::string raw = tensor.text(9);
  std::vector<int64_t> out(raw.size() / 8);
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = (v << 8) | static_cast<uint8_t>(raw[i * 8 + b]);
    out[i] = static_cast<int64_t>(v);
  }
  EXPECT_EQ(tensor.ints(1), (std::vector<int64_t>{static_cast<int64_t>(out.size())}));
  return out;
}

// An attribute of a NodeProto (attribute 5 -> name 1, f 2, i 3, ints 8, type 20).
Message attribute(const Message& node, const std::string& name) {
  for (const Message& a : node.messages(5))
    if (a.text(1) == name) return a;
  ADD_FAILURE() << "node " << node.text(3) << " has no attribute " << name;
  return {};
}

// A ValueInfoProto's dims: dim_value, or -1 for a dim_param (named "N" here).
std::vector<int64_t> dims_of(const Message& info, std::string* param = nullptr) {
  std::vector<int64_t> dims;
  const Message tensor = info.messages(2).at(0).messages(1).at(0);
  EXPECT_EQ(tensor.number(1), 1);  // elem_type FLOAT
  for (const Message& d : tensor.messages(2).at(0).messages(1)) {
    if (d.bytes.count(2)) {
      dims.push_back(-1);
      if (param) *param = d.text(2);
    } else {
      dims.push_back(d.number(1));
    }
  }
  return dims;
}

struct Exported {
  Message model, graph;
  std::vector<Message> nodes;
  std::map<std::string, Message> initializers;
};

Exported export_and_read(const Network& net, const std::vector<float>& params,
                         const std::vector<float>& buffers, const OnnxNormalize& normalize = {}) {
  const std::vector<uint8_t> bytes = export_onnx(net, params, buffers, normalize, "0.test");
  Exported e;
  e.model = decode(std::string(bytes.begin(), bytes.end()));
  e.graph = e.model.messages(7).at(0);
  e.nodes = e.graph.messages(1);
  for (const Message& t : e.graph.messages(5)) e.initializers[t.text(8)] = t;
  return e;
}

std::vector<std::string> op_types(const Exported& e) {
  std::vector<std::string> ops;
  for (const Message& n : e.nodes) ops.push_back(n.text(4));
  return ops;
}

// Every node reads values defined before it (the graph input, an initializer
// or an earlier node's output), and no value is defined twice.
void expect_well_formed(const Exported& e) {
  std::set<std::string> defined;
  for (const auto& [name, t] : e.initializers) EXPECT_TRUE(defined.insert(name).second) << name;
  for (const Message& in : e.graph.messages(11)) EXPECT_TRUE(defined.insert(in.text(1)).second);
  for (const Message& n : e.nodes) {
    for (const std::string& in : n.texts(1))
      EXPECT_TRUE(defined.count(in)) << n.text(3) << " reads undefined '" << in << "'";
    for (const std::string& out : n.texts(2))
      EXPECT_TRUE(defined.insert(out).second) << "'" << out << "' defined twice";
  }
  EXPECT_TRUE(defined.count(e.graph.messages(12).at(0).text(1)));
}

struct Built {
  Context ctx{Device::CPU};
  Network net;
  std::vector<float> params, buffers;
  explicit Built(const nlohmann::json& network) : net(Network::from_json(network, "test.json")) {
    net.setup(ctx, {1});
    Rng rng(4);
    net.initialize(rng);
    params = net.download_parameters();
    buffers = net.download_buffers();
    for (size_t i = 0; i < buffers.size(); ++i)  // running statistics other than 0 and 1
      buffers[i] = 0.5f + 0.01f * static_cast<float>(i % 17);
  }
};

TEST(OnnxExport, TheTutorialNetworkNodesWeightsAndShapes) {
  const Config tutorial =
      Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"), "t");
  Built b(tutorial.network);
  const Exported e = export_and_read(b.net, b.params, b.buffers);
  EXPECT_EQ(e.model.number(1), 7);  // ir_version
  EXPECT_EQ(e.model.text(2), "cnnengine");
  EXPECT_EQ(e.model.text(3), "0.test");
  const Message opset = e.model.messages(8).at(0);
  EXPECT_EQ(opset.text(1), "");  // the default domain
  EXPECT_EQ(opset.number(2), 13);
  EXPECT_EQ(e.graph.text(2), "SimpleCNN");
  EXPECT_EQ(op_types(e),
            (std::vector<std::string>{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool",
                                      "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"}));
  EXPECT_EQ(e.nodes[0].text(3), "conv1");
  EXPECT_EQ(e.nodes[0].texts(1), (std::vector<std::string>{"input", "conv1.weight", "conv1.bias"}));
  EXPECT_EQ(attribute(e.nodes[0], "kernel_shape").ints(8), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(attribute(e.nodes[0], "pads").ints(8), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(attribute(e.nodes[0], "group").number(3), 1);
  EXPECT_EQ(attribute(e.nodes[2], "strides").ints(8), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(attribute(e.nodes[6], "axis").number(3), 1);
  EXPECT_EQ(attribute(e.nodes[7], "transB").number(3), 1);
  EXPECT_EQ(e.nodes.back().texts(2), (std::vector<std::string>{"logits"}));
  std::string param;
  EXPECT_EQ(dims_of(e.graph.messages(11).at(0), &param), (std::vector<int64_t>{-1, 3, 32, 32}));
  EXPECT_EQ(param, "N");
  const Message output = e.graph.messages(12).at(0);
  EXPECT_EQ(output.text(1), "logits");
  EXPECT_EQ(dims_of(output), (std::vector<int64_t>{-1, 10}));
  // Every parameter, bit for bit, under its state_dict name and shape.
  ASSERT_EQ(e.initializers.size(), b.net.parameters().size());
  for (const NamedParam& p : b.net.parameters()) {
    const Message& t = e.initializers.at(p.name);
    std::vector<int64_t> shape;
    for (int i = 0; i < p.shape.rank(); ++i) shape.push_back(p.shape[i]);
    EXPECT_EQ(t.ints(1), shape) << p.name;
    EXPECT_EQ(t.number(2), 1) << p.name;  // FLOAT
    const std::string raw = t.text(9);
    ASSERT_EQ(raw.size(), static_cast<size_t>(p.shape.numel()) * 4) << p.name;
    EXPECT_EQ(std::memcmp(raw.data(), b.params.data() + p.offset, raw.size()), 0) << p.name;
  }
  expect_well_formed(e);
}

nlohmann::json every_layer_network() {
  return parse_json_text(R"({"name": "Everything", "input": [3, 16, 16], "layers": [
    {"type": "conv2d", "name": "stem", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"type": "batchnorm2d", "name": "bn", "num_features": 8, "eps": 0.001},
    {"type": "relu", "name": "relu"},
    {"type": "conv2d", "name": "dw", "in_channels": 8, "out_channels": 8, "kernel_size": 3,
     "padding": "same", "groups": 8, "dilation": 2, "bias": false},
    {"type": "gelu", "name": "gelu"},
    {"type": "conv2d", "name": "pw", "in_channels": 8, "out_channels": 8, "kernel_size": [1, 3],
     "padding": [0, 1], "inputs": ["relu"]},
    {"type": "gelu", "name": "gelu_tanh", "approximate": "tanh"},
    {"type": "add", "name": "join", "inputs": ["gelu", "gelu_tanh"]},
    {"type": "silu", "name": "silu"},
    {"type": "maxpool2d", "name": "pool", "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "elu", "name": "elu", "alpha": 0.7},
    {"type": "avgpool2d", "name": "avg", "kernel_size": 3, "stride": 2, "padding": 1,
     "count_include_pad": false, "inputs": ["pool"]},
    {"type": "leaky_relu", "name": "leaky", "negative_slope": 0.2, "inputs": ["pool"]},
    {"type": "avgpool2d", "name": "avg2", "kernel_size": 2},
    {"type": "concat", "name": "cat", "inputs": ["avg", "avg2"]},
    {"type": "tanh", "name": "tanh"},
    {"type": "prelu", "name": "prelu", "num_parameters": 16, "init": 0.1},
    {"type": "groupnorm", "name": "gn", "num_groups": 4, "num_channels": 16},
    {"type": "instancenorm2d", "name": "inorm", "num_features": 16},
    {"type": "dropout", "name": "drop", "p": 0.3},
    {"type": "dropout2d", "name": "drop2d", "p": 0.2},
    {"type": "global_avgpool2d", "name": "se_pool"},
    {"type": "conv2d", "name": "se_reduce", "in_channels": 16, "out_channels": 4, "kernel_size": 1},
    {"type": "relu6", "name": "se_relu6"},
    {"type": "conv2d", "name": "se_expand", "in_channels": 4, "out_channels": 16, "kernel_size": 1},
    {"type": "hardsigmoid", "name": "se_gate"},
    {"type": "mul", "name": "se_scale", "inputs": ["drop2d", "se_gate"]},
    {"type": "hardswish", "name": "hswish"},
    {"type": "flatten", "name": "se_flat", "inputs": ["se_pool"]},
    {"type": "mish", "name": "mish"},
    {"type": "selu", "name": "selu"},
    {"type": "prelu", "name": "prelu1d"},
    {"type": "mul", "name": "gate2", "inputs": ["prelu1d", "hswish"]},
    {"type": "global_avgpool2d", "name": "gap", "inputs": ["elu"]},
    {"type": "flatten", "name": "flat"},
    {"type": "linear", "name": "fc1", "in_features": 8, "out_features": 16},
    {"type": "batchnorm1d", "name": "bn1d", "num_features": 16},
    {"type": "groupnorm", "name": "gn1d", "num_groups": 2, "num_channels": 16, "affine": false},
    {"type": "layernorm", "name": "ln", "normalized_shape": 16},
    {"type": "sigmoid", "name": "sig"},
    {"type": "flatten", "name": "flat2", "inputs": ["gate2"]},
    {"type": "linear", "name": "side", "in_features": 256, "out_features": 16, "bias": false},
    {"type": "add", "name": "mix", "inputs": ["sig", "side"]},
    {"type": "linear", "name": "fc", "in_features": 16, "out_features": 10}]})",
                         "every_layer");
}

TEST(OnnxExport, EveryLayerTypeBecomesItsOnnxNodes) {
  Built b(every_layer_network());
  const Exported e = export_and_read(b.net, b.params, b.buffers);
  std::map<std::string, Message> by_name;
  for (const Message& n : e.nodes) by_name[n.text(3)] = n;
  auto op = [&](const std::string& name) { return by_name.at(name).text(4); };
  EXPECT_EQ(op("bn"), "BatchNormalization");
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("bn"), "epsilon").number(2)), 0.001f);
  EXPECT_EQ(by_name.at("bn").texts(1),
            (std::vector<std::string>{"stem", "bn.weight", "bn.bias", "bn.running_mean",
                                      "bn.running_var"}));
  // The running statistics go in as they are (not the initial 0 and 1).
  const std::string var = e.initializers.at("bn.running_var").text(9);
  const NamedParam& var_param = b.net.buffers()[1];
  ASSERT_EQ(var_param.name, "bn.running_var");
  EXPECT_EQ(std::memcmp(var.data(), b.buffers.data() + var_param.offset, var.size()), 0);
  const Message& dw = by_name.at("dw");
  EXPECT_EQ(dw.texts(1).size(), 2u);  // no bias
  EXPECT_EQ(attribute(dw, "group").number(3), 8);
  EXPECT_EQ(attribute(dw, "dilations").ints(8), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(attribute(dw, "pads").ints(8), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(attribute(by_name.at("pw"), "pads").ints(8), (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(attribute(by_name.at("pw"), "kernel_shape").ints(8), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(by_name.at("pw").texts(1)[0], "relu");  // reads the layer named in its inputs
  EXPECT_EQ(op("gelu/erf"), "Erf");
  EXPECT_EQ(op("gelu"), "Mul");
  EXPECT_EQ(op("gelu_tanh/tanh"), "Tanh");
  EXPECT_EQ(op("join"), "Add");
  EXPECT_EQ(by_name.at("join").texts(1), (std::vector<std::string>{"gelu", "gelu_tanh"}));
  EXPECT_EQ(op("silu/sigmoid"), "Sigmoid");
  EXPECT_EQ(by_name.at("silu").texts(1), (std::vector<std::string>{"join", "silu/sigmoid"}));
  EXPECT_EQ(op("pool"), "MaxPool");
  EXPECT_EQ(attribute(by_name.at("pool"), "pads").ints(8), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(op("elu"), "Elu");
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("elu"), "alpha").number(2)), 0.7f);
  EXPECT_EQ(op("avg"), "AveragePool");
  EXPECT_EQ(attribute(by_name.at("avg"), "count_include_pad").number(3), 0);
  EXPECT_EQ(attribute(by_name.at("avg2"), "count_include_pad").number(3), 1);
  EXPECT_EQ(op("leaky"), "LeakyRelu");
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("leaky"), "alpha").number(2)), 0.2f);
  EXPECT_EQ(op("cat"), "Concat");
  EXPECT_EQ(attribute(by_name.at("cat"), "axis").number(3), 1);
  EXPECT_EQ(op("tanh"), "Tanh");
  // GroupNorm as torch.onnx writes it below opset 18: (N, G, -1), InstanceNormalization
  // with unit scale, back to (N, C, H, W), then the per-channel weight and bias.
  EXPECT_EQ(op("gn/group"), "Reshape");
  EXPECT_EQ(by_name.at("gn/group").texts(1)[0], "prelu");
  EXPECT_EQ(int64s(e.initializers.at("gn/group_shape")), (std::vector<int64_t>{0, 4, -1}));
  EXPECT_EQ(op("gn/normalize"), "InstanceNormalization");
  EXPECT_EQ(by_name.at("gn/normalize").texts(1),
            (std::vector<std::string>{"gn/group", "gn/ones", "gn/zeros"}));
  EXPECT_EQ(int64s(e.initializers.at("gn/shape")), (std::vector<int64_t>{0, 16, 4, 4}));
  EXPECT_EQ(int64s(e.initializers.at("gn/channel_shape")), (std::vector<int64_t>{16, 1, 1}));
  EXPECT_EQ(op("gn/scale"), "Mul");
  EXPECT_EQ(op("gn"), "Add");
  EXPECT_EQ(by_name.at("gn").texts(1), (std::vector<std::string>{"gn/scale", "gn/bias"}));
  EXPECT_EQ(op("inorm"), "InstanceNormalization");
  EXPECT_EQ(by_name.at("inorm").texts(1),
            (std::vector<std::string>{"gn", "inorm/ones", "inorm/zeros"}));
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("inorm"), "epsilon").number(2)), 1e-5f);
  EXPECT_EQ(op("gn1d"), "Reshape");  // no affine: the reshape back is the layer's output
  EXPECT_EQ(int64s(e.initializers.at("gn1d/shape")), (std::vector<int64_t>{0, 16}));
  EXPECT_EQ(op("ln"), "Add");  // layernorm on (N, F): groupnorm's nodes with one group
  EXPECT_EQ(int64s(e.initializers.at("ln/group_shape")), (std::vector<int64_t>{0, 1, -1}));
  EXPECT_EQ(int64s(e.initializers.at("ln/channel_shape")), (std::vector<int64_t>{16}));
  EXPECT_EQ(op("drop"), "Identity");
  EXPECT_EQ(op("drop2d"), "Identity");
  EXPECT_EQ(op("gap"), "GlobalAveragePool");
  EXPECT_EQ(op("se_relu6"), "Clip");  // torch.onnx's ReLU6
  EXPECT_EQ(by_name.at("se_relu6").texts(1),
            (std::vector<std::string>{"se_reduce", "se_relu6/min", "se_relu6/max"}));
  EXPECT_EQ(op("se_gate"), "HardSigmoid");
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("se_gate"), "alpha").number(2)), 1.0f / 6.0f);
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("se_gate"), "beta").number(2)), 0.5f);
  EXPECT_EQ(op("se_scale"), "Mul");  // an (N, C, 1, 1) gate broadcasts as it is
  EXPECT_EQ(by_name.at("se_scale").texts(1), (std::vector<std::string>{"drop2d", "se_gate"}));
  EXPECT_EQ(op("hswish/hardsigmoid"), "HardSigmoid");
  EXPECT_EQ(by_name.at("hswish").texts(1),
            (std::vector<std::string>{"se_scale", "hswish/hardsigmoid"}));
  EXPECT_EQ(op("mish/softplus"), "Softplus");
  EXPECT_EQ(op("mish/tanh"), "Tanh");
  EXPECT_EQ(by_name.at("mish").texts(1), (std::vector<std::string>{"se_flat", "mish/tanh"}));
  // An (N, C) gate of an (N, C, H, W) map is Unsqueezed to (N, C, 1, 1) first.
  EXPECT_EQ(op("gate2/unsqueeze"), "Unsqueeze");
  EXPECT_EQ(by_name.at("gate2/unsqueeze").texts(1),
            (std::vector<std::string>{"prelu1d", "gate2/axes"}));
  EXPECT_EQ(op("selu"), "Selu");
  EXPECT_FLOAT_EQ(as_float(attribute(by_name.at("selu"), "gamma").number(2)), 1.0507009873554805f);
  EXPECT_EQ(op("prelu"), "PRelu");  // a slope per channel: (16) as (16, 1, 1)
  EXPECT_EQ(by_name.at("prelu").texts(1), (std::vector<std::string>{"tanh", "prelu/slope"}));
  EXPECT_EQ(int64s(e.initializers.at("prelu/slope_shape")), (std::vector<int64_t>{16, 1, 1}));
  EXPECT_EQ(by_name.at("prelu1d").texts(1),  // one slope broadcasts as it is
            (std::vector<std::string>{"selu", "prelu1d.weight"}));
  EXPECT_EQ(int64s(e.initializers.at("gate2/axes")), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(by_name.at("gate2").texts(1), (std::vector<std::string>{"gate2/unsqueeze", "hswish"}));
  EXPECT_EQ(op("bn1d"), "BatchNormalization");
  EXPECT_EQ(op("sig"), "Sigmoid");
  EXPECT_EQ(op("side"), "Gemm");
  EXPECT_EQ(by_name.at("side").texts(1), (std::vector<std::string>{"flat2", "side.weight"}));
  EXPECT_EQ(by_name.at("fc").texts(2), (std::vector<std::string>{"logits"}));
  float sqrt2 = 0;  // a rank-0 constant
  ASSERT_EQ(e.initializers.at("gelu/sqrt2").text(9).size(), 4u);
  EXPECT_TRUE(e.initializers.at("gelu/sqrt2").ints(1).empty());
  std::memcpy(&sqrt2, e.initializers.at("gelu/sqrt2").text(9).data(), 4);
  EXPECT_FLOAT_EQ(sqrt2, std::sqrt(2.0f));
  expect_well_formed(e);
}

TEST(OnnxExport, NamesStayUniqueWhenALayerIsNamedLikeATensor) {
  Built b(parse_json_text(R"({"input": [1, 2, 2], "layers": [
    {"type": "flatten", "name": "flat"},
    {"type": "linear", "name": "a", "in_features": 4, "out_features": 3},
    {"type": "relu", "name": "b.weight"},
    {"type": "linear", "name": "b", "in_features": 3, "out_features": 2}]})",
                          "names"));
  const Exported e = export_and_read(b.net, b.params, b.buffers);
  expect_well_formed(e);                                                   // no value defined twice
  EXPECT_EQ(e.nodes[2].texts(2), (std::vector<std::string>{"b.weight"}));  // the relu's output
  EXPECT_EQ(e.nodes[3].texts(1), (std::vector<std::string>{"b.weight", "b.weight_1", "b.bias"}));
  EXPECT_EQ(e.initializers.count("b.weight_1"), 1u);
}

TEST(OnnxExport, NormalizeInTheGraphComesFirst) {
  const Config tutorial =
      Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"), "t");
  Built b(tutorial.network);
  const Exported e = export_and_read(b.net, b.params, b.buffers,
                                     {{0.4914, 0.4822, 0.4465}, {0.247, 0.243, 0.261}});
  EXPECT_EQ(op_types(e)[0], "Sub");
  EXPECT_EQ(op_types(e)[1], "Div");
  EXPECT_EQ(e.nodes[0].texts(1), (std::vector<std::string>{"input", "normalize.mean"}));
  EXPECT_EQ(e.nodes[2].texts(1)[0], "normalize/div");  // conv1 reads the normalized images
  const Message& std_t = e.initializers.at("normalize.std");
  EXPECT_EQ(std_t.ints(1), (std::vector<int64_t>{1, 3, 1, 1}));
  float values[3];
  std::memcpy(values, std_t.text(9).data(), sizeof values);
  EXPECT_FLOAT_EQ(values[2], 0.261f);
  expect_well_formed(e);
  EXPECT_THROW(export_onnx(b.net, b.params, b.buffers, {{0.5}, {0.5}}), Error);
}

TEST(OnnxExport, CliWritesTheFileAndRefusesBadArguments) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  const std::string weights = out.file("w.safetensors");
  ASSERT_EQ(run_cli("train --device cpu --epochs 1 --no-eval --data " + data.path().string() +
                    " --out " + weights)
                .exit_code,
            0);
  const RunResult ok = run_cli("export --checkpoint " + weights);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("to " + out.file("w.onnx") + " ("), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("output \"logits\" (N, 10)"), std::string::npos) << ok.out;
  const std::vector<uint8_t> bytes = read_bytes(out.file("w.onnx"));
  EXPECT_EQ(decode(std::string(bytes.begin(), bytes.end())).messages(7).at(0).messages(1).size(),
            12u);
  const RunResult named =
      run_cli("export --checkpoint " + weights + " --with-normalize --out " + out.file("n.onnx"));
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_NE(named.out.find("in [0, 1], normalized inside the graph"), std::string::npos);

  const RunResult none = run_cli("export");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("export needs --checkpoint FILE"), std::string::npos) << none.err;
  const RunResult suffix = run_cli("export --checkpoint " + weights + " --out m.bin");
  EXPECT_EQ(suffix.exit_code, 2);
  EXPECT_NE(suffix.err.find("--out 'm.bin' must end in .onnx"), std::string::npos) << suffix.err;
  const RunResult folder =
      run_cli("export --checkpoint " + weights + " --out " + out.file("no/such/m.onnx"));
  EXPECT_EQ(folder.exit_code, 2);
  write_text(out.file("bad.safetensors"), "not a checkpoint");
  const RunResult bad = run_cli("export --checkpoint " + out.file("bad.safetensors"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.safetensors"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(out.file("bad.onnx")));
  EXPECT_NE(run_cli("help export").out.find("ONNX"), std::string::npos);
}

// ONNX Runtime computes what cnnengine computes, for every layer type
// (tools/check_onnx_export.py). Skips where Python lacks onnx and onnxruntime.
TEST(OnnxExport, OnnxRuntimeAgreesWithCnnengine) {
  const char* env = std::getenv("CNNE_ONNX_PYTHON");
  const std::string python = env && *env ? env : "python3";
  if (std::system((python + " -c 'import onnx, onnxruntime' > /dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << python << " lacks onnx/onnxruntime (pip install onnx onnxruntime, or set "
                 << "CNNE_ONNX_PYTHON)";
  TempDir data, out;
  make_small_cifar(data, 40, 200);
  nlohmann::json config = {{"network", every_layer_network()},
                           {"training",
                            {{"epochs", 1},
                             {"batch_size", 20},
                             {"optimizer", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}}}}};
  config["network"]["input"] = {3, 32, 32};
  for (auto& layer : config["network"]["layers"])
    if (layer["name"] == "side") layer["in_features"] = 1024;  // 16 x 8 x 8 at 32x32
  write_text(out.file("c.json"), config.dump());
  const std::string weights = out.file("w.safetensors");
  const RunResult trained =
      run_cli("train " + out.file("c.json") + " --device cpu --no-eval --data " +
              data.path().string() + " --out " + weights);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  ASSERT_EQ(run_cli("export --checkpoint " + weights).exit_code, 0);
  ASSERT_EQ(run_cli("eval --checkpoint " + weights + " --device cpu --data " +
                    data.path().string() + " --predictions " + out.file("p.csv"))
                .exit_code,
            0);
  const RunResult check =
      run_command(python + " " + source_dir() + "/tools/check_onnx_export.py " +
                  out.file("w.onnx") + " " + out.file("p.csv") + " " + data.path().string());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("predictions equal to cnnengine's for 200/200"), std::string::npos)
      << check.out;
}

}  // namespace
}  // namespace cnne::test
