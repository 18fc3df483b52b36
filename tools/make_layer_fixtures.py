#!/usr/bin/python3
"""Makes tests/fixtures/layer_parity.safetensors: what PyTorch's activation modules and
grouped, dilated and string-padded ("same", "valid") convolutions, BatchNorm1d and AvgPool2d compute,
forward and backward, for tests/activation_test.cpp, tests/conv2d_variants_test.cpp and
tests/batchnorm1d_test.cpp.

Run with Debian's CPU PyTorch (apt-get install python3-torch python3-numpy):
    /usr/bin/python3 tools/make_layer_fixtures.py [--out tests/fixtures/layer_parity.safetensors]

It holds, as safetensors (tools/safetensors_file.py):
  x                 F32 (2, 3, 7, 9) inputs: uniform in [-6, 6], then exact values at the
                    edges (0, +-1e-30, +-20, +-90, the largest float, NaN, the hard activations'
                    kinks +-3, +-6) in the first elements
  dy                F32 (2, 3, 7, 9) the incoming gradient, uniform in [-1, 1]
  <case>.y          F32 module(x)
  <case>.dx         F32 the gradient of sum(module(x) * dy) with respect to x
for each case of the metadata's "modules" (case -> [its config layer entry, the module's repr]);
and for each case of the metadata's "convs" (case -> [its conv2d config entry, the repr,
the input shape]), nn.Conv2d with PyTorch's default init (seed 1234):
  <case>.x, <case>.weight, <case>.bias (if any), <case>.dy   the inputs
  <case>.y, <case>.dx, <case>.dweight, <case>.dbias (if any)  forward and gradients
and for each case of the metadata's "norms" (case -> [its batchnorm1d entry, the repr, the
input shape]), nn.BatchNorm1d in training mode, one forward and backward, then in evaluation:
  <case>.x, <case>.weight, <case>.bias (uniform, not the init), <case>.dy   the inputs
  <case>.y, <case>.dx, <case>.dweight, <case>.dbias                        training forward, grads
  <case>.running_mean, <case>.running_var   the buffers after that forward (from 0 and 1)
  <case>.y_eval                             the evaluation-mode output on x
and for each case of the metadata's "pools" (case -> [its avgpool2d entry, the repr, the input
shape]), nn.AvgPool2d with and without count_include_pad:
  <case>.x, <case>.dy, <case>.y, <case>.dx
and for each case of the metadata's "prelus" (case -> [its prelu entry, the repr, the input
shape]), nn.PReLU with slopes uniform in [-0.5, 0.8], x with 0 and -0 first (and a NaN in
prelu_channels):
  <case>.x, <case>.weight, <case>.dy, <case>.y, <case>.dx, <case>.dweight
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import save_safetensors  # noqa: E402

# case -> (its conv2d entry in a cnnengine config, the input shape)
CONVS = {
    "grouped": ({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "padding": 1,
                 "groups": 2}, (2, 4, 7, 6)),
    "depthwise": ({"in_channels": 3, "out_channels": 3, "kernel_size": [3, 5], "stride": 2,
                   "padding": [1, 2], "groups": 3, "bias": False}, (2, 3, 9, 10)),
    "depthwise_multiplier": ({"in_channels": 2, "out_channels": 6, "kernel_size": 3,
                              "groups": 2}, (3, 2, 6, 6)),
    "grouped_pointwise": ({"in_channels": 6, "out_channels": 4, "kernel_size": 1,
                           "groups": 2}, (2, 6, 5, 5)),
    "dilated": ({"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 2,
                 "dilation": 2}, (2, 3, 9, 8)),
    "dilated_strided": ({"in_channels": 2, "out_channels": 3, "kernel_size": [3, 2],
                         "stride": [2, 1], "padding": [1, 2], "dilation": [2, 3],
                         "bias": False}, (2, 2, 11, 10)),
    "dilated_grouped_same": ({"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                              "padding": "same", "dilation": 3, "groups": 2}, (2, 4, 8, 7)),
    "valid": ({"in_channels": 2, "out_channels": 2, "kernel_size": 2, "padding": "valid"},
              (1, 2, 5, 4)),
}

# case -> (its avgpool2d entry in a cnnengine config, the input shape)
POOLS = {
    "avg_exclude_pad": ({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
                        (2, 3, 7, 9)),
    "avg_exclude_pad_rect": ({"kernel_size": [2, 4], "stride": 1, "padding": [1, 2],
                              "count_include_pad": False}, (1, 2, 5, 6)),
    "avg_include_pad": ({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 3, 7, 9)),
}

# case -> (its batchnorm1d entry in a cnnengine config, the input shape (N, C))
NORMS = {
    "bn1d": ({"num_features": 5}, (6, 5)),
    "bn1d_momentum": ({"num_features": 3, "eps": 1e-3, "momentum": 0.3}, (2, 3)),
}

# case -> (its layer entry in a cnnengine config, the PyTorch module)
MODULES = {
    "tanh": ({"type": "tanh"}, nn.Tanh()),
    "sigmoid": ({"type": "sigmoid"}, nn.Sigmoid()),
    "leaky_relu": ({"type": "leaky_relu", "negative_slope": 0.2}, nn.LeakyReLU(negative_slope=0.2)),
    "leaky_relu_default": ({"type": "leaky_relu"}, nn.LeakyReLU()),
    "elu": ({"type": "elu", "alpha": 0.5}, nn.ELU(alpha=0.5)),
    "elu_default": ({"type": "elu"}, nn.ELU()),
    "silu": ({"type": "silu"}, nn.SiLU()),
    "gelu": ({"type": "gelu"}, nn.GELU()),
    "gelu_tanh": ({"type": "gelu", "approximate": "tanh"}, nn.GELU(approximate="tanh")),
    "relu6": ({"type": "relu6"}, nn.ReLU6()),
    "hardsigmoid": ({"type": "hardsigmoid"}, nn.Hardsigmoid()),
    "hardswish": ({"type": "hardswish"}, nn.Hardswish()),
    "mish": ({"type": "mish"}, nn.Mish()),
    "selu": ({"type": "selu"}, nn.SELU()),
}

# case -> (its prelu entry in a cnnengine config, the input shape)
PRELUS = {
    "prelu_channels": ({"num_parameters": 3}, (2, 3, 7, 9)),
    "prelu_shared": ({"num_parameters": 1}, (2, 3, 7, 9)),
    "prelu_features": ({"num_parameters": 5, "init": 0.1}, (4, 5)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "layer_parity.safetensors"))
    args = parser.parse_args()
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    x = torch.empty(2, 3, 7, 9).uniform_(-6, 6)
    edges = [0.0, 1e-30, -1e-30, 20.0, -20.0, 90.0, -90.0, 3.4028234663852886e38,
             -3.4028234663852886e38, float("nan"), -3.0, 3.0, 6.0, -6.0]  # the hard kinks
    x.view(-1)[:len(edges)] = torch.tensor(edges)
    dy = torch.empty_like(x).uniform_(-1, 1)
    out = {"x": x.numpy(), "dy": dy.numpy()}
    modules = {}
    for name, (entry, module) in MODULES.items():
        xin = x.clone().requires_grad_(True)
        y = module(xin)
        (y * dy).sum().backward()
        out[name + ".y"] = y.detach().numpy()
        out[name + ".dx"] = xin.grad.numpy()
        modules[name] = [entry, repr(module)]
    convs = {}
    for name, (entry, shape) in CONVS.items():
        k = entry["kernel_size"]
        conv = nn.Conv2d(entry["in_channels"], entry["out_channels"], k,
                         stride=entry.get("stride", 1), padding=entry.get("padding", 0),
                         dilation=entry.get("dilation", 1), groups=entry.get("groups", 1),
                         bias=entry.get("bias", True))
        xin = torch.empty(shape).uniform_(-1, 1).requires_grad_(True)
        y = conv(xin)
        g = torch.empty_like(y).uniform_(-1, 1)
        (y * g).sum().backward()
        out[name + ".x"] = xin.detach().numpy()
        out[name + ".weight"] = conv.weight.detach().numpy()
        if conv.bias is not None:
            out[name + ".bias"] = conv.bias.detach().numpy()
        out[name + ".dy"] = g.numpy()
        out[name + ".y"] = y.detach().numpy()
        out[name + ".dx"] = xin.grad.numpy()
        out[name + ".dweight"] = conv.weight.grad.numpy()
        if conv.bias is not None:
            out[name + ".dbias"] = conv.bias.grad.numpy()
        convs[name] = [dict(entry, type="conv2d"), repr(conv), list(shape)]
    norms = {}
    for name, (entry, shape) in NORMS.items():
        bn = nn.BatchNorm1d(entry["num_features"], eps=entry.get("eps", 1e-5),
                            momentum=entry.get("momentum", 0.1))
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        xin = (torch.empty(shape).uniform_(-2, 2) * 3 + 1).requires_grad_(True)
        y = bn(xin)
        g = torch.empty_like(y).uniform_(-1, 1)
        (y * g).sum().backward()
        for key, value in {"x": xin, "weight": bn.weight, "bias": bn.bias, "dy": g, "y": y,
                           "dx": xin.grad, "dweight": bn.weight.grad, "dbias": bn.bias.grad,
                           "running_mean": bn.running_mean,
                           "running_var": bn.running_var}.items():
            out[name + "." + key] = value.detach().numpy().copy()
        bn.eval()
        out[name + ".y_eval"] = bn(xin).detach().numpy()
        norms[name] = [dict(entry, type="batchnorm1d"), repr(bn), list(shape)]
    pools = {}
    for name, (entry, shape) in POOLS.items():
        tup = lambda v: tuple(v) if isinstance(v, list) else v  # noqa: E731  as PyTorch prints
        pool = nn.AvgPool2d(tup(entry["kernel_size"]), stride=tup(entry["stride"]),
                            padding=tup(entry["padding"]),
                            count_include_pad=entry.get("count_include_pad", True))
        xin = torch.empty(shape).uniform_(-1, 1).requires_grad_(True)
        y = pool(xin)
        g = torch.empty_like(y).uniform_(-1, 1)
        (y * g).sum().backward()
        for key, value in {"x": xin, "dy": g, "y": y, "dx": xin.grad}.items():
            out[name + "." + key] = value.detach().numpy().copy()
        pools[name] = [dict(entry, type="avgpool2d"), repr(pool), list(shape)]
    prelus = {}
    for name, (entry, shape) in PRELUS.items():
        prelu = nn.PReLU(entry["num_parameters"], init=entry.get("init", 0.25))
        with torch.no_grad():
            prelu.weight.uniform_(-0.5, 0.8)  # negative slopes too
        xin = torch.empty(shape).uniform_(-2, 2)
        # x = 0 takes the slope; a NaN (channel 0 of prelu_channels only) makes that
        # channel's dweight NaN, as in PyTorch
        edge = float("nan") if name == "prelu_channels" else -1.5
        xin.view(-1)[:3] = torch.tensor([0.0, -0.0, edge])
        xin.requires_grad_(True)
        y = prelu(xin)
        g = torch.empty_like(y).uniform_(-1, 1)
        (y * g).sum().backward()
        for key, value in {"x": xin, "weight": prelu.weight, "dy": g, "y": y, "dx": xin.grad,
                           "dweight": prelu.weight.grad}.items():
            out[name + "." + key] = value.detach().numpy().copy()
        prelus[name] = [dict(entry, type="prelu"), repr(prelu), list(shape)]
    metadata = {"modules": json.dumps(modules), "convs": json.dumps(convs),
                "norms": json.dumps(norms), "pools": json.dumps(pools), "prelus": json.dumps(prelus),
                "torch": torch.__version__}
    save_safetensors(args.out, out, metadata)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
