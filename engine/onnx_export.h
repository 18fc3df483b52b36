#pragma once
// ONNX export: a network and its weights as an ONNX model (opset 13, IR
// version 7), the file torch.onnx.export writes for the same model in
// evaluation mode, for ONNX Runtime, TensorRT, OpenVINO and the like.
//
// Input "input" (N, C, H, W) float, N free ("N"): the images as the network
// takes them, after ToTensor + Normalize, unless `normalize` is given, which
// puts (x - mean) / std in the graph so that it takes ToTensor's [0, 1] values.
// Output "logits" (N, classes). Every layer becomes the ONNX nodes that
// compute it in evaluation mode: conv2d Conv, maxpool2d MaxPool, avgpool2d
// AveragePool (count_include_pad), global_avgpool2d GlobalAveragePool,
// batchnorm2d/1d BatchNormalization with the running statistics,
// instancenorm2d InstanceNormalization, groupnorm (and layernorm, one group)
// Reshape to (N, G, -1),
// InstanceNormalization, Reshape back, Mul and Add (torch.onnx's form below
// opset 18, which has GroupNormalization), relu Relu,
// tanh, sigmoid, leaky_relu, elu their ops, silu x * Sigmoid(x), gelu its
// erf or tanh formula from Mul/Add/Div/Erf/Tanh (opset 13 has no Gelu),
// relu6 Clip(0, 6), hardsigmoid HardSigmoid(1/6, 1/2), hardswish
// x * HardSigmoid(x), mish x * Tanh(Softplus(x)) (HardSwish and Mish are
// opsets 14 and 18), selu Selu, prelu PRelu (its (C) slope as (C, 1, 1) on maps), mul Mul (an (N, C) gate Unsqueezed to (N, C, 1, 1)),
// dropout and dropout2d Identity, add Add, concat Concat(axis 1), flatten Flatten(axis 1),
// linear Gemm(transB).
// Nodes and tensors keep the layers' and parameters' names.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/network.h"

namespace cnne {

struct OnnxNormalize {
  std::vector<double> mean, std;  // per channel, on the [0, 1] scale; empty = not in the graph
};

// The serialized ModelProto. `parameters` and `buffers` are laid out as
// net.parameters() / net.buffers() (Network::download_parameters/_buffers).
std::vector<uint8_t> export_onnx(const Network& net, const std::vector<float>& parameters,
                                 const std::vector<float>& buffers,
                                 const OnnxNormalize& normalize = {},
                                 const std::string& producer_version = "",
                                 const std::string& doc = "");

}  // namespace cnne
