#!/usr/bin/python3
"""Makes tests/fixtures/groupnorm_parity.safetensors: what PyTorch's nn.GroupNorm,
nn.InstanceNorm2d and nn.LayerNorm (over the features of (N, F)) compute, forward and
backward, for tests/groupnorm_test.cpp.

Run with Debian's CPU PyTorch (apt-get install python3-torch python3-numpy):
    /usr/bin/python3 tools/make_groupnorm_fixtures.py [--out tests/fixtures/groupnorm_parity.safetensors]

For each case of the metadata's "cases" (case -> [its config layer entry, the module's repr,
the input shape]) it holds, as safetensors (tools/safetensors_file.py):
  <case>.x                     F32 the input: uniform in [-2, 3], times 2 for odd channels
  <case>.weight, <case>.bias   F32 (C), uniform, when the module is affine (not the init)
  <case>.dy                    F32 the incoming gradient, uniform in [-1, 1]
  <case>.y                     F32 module(x) (in training mode; evaluation is the same)
  <case>.dx                    F32 the gradient of sum(module(x) * dy) with respect to x
  <case>.dweight, <case>.dbias F32 that gradient's with respect to weight and bias (affine)
The values are PyTorch's float32 results; the script checks each against the same module
run in float64 (the inputs widened) and refuses a case they disagree on by more than 2e-6,
so the fixture holds the arithmetic, not a float32 rounding accident.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import save_safetensors  # noqa: E402

# case -> (its layer entry in a cnnengine config, the input shape)
CASES = {
    "groups": ({"type": "groupnorm", "num_groups": 2, "num_channels": 6}, (3, 6, 5, 4)),
    "one_group": ({"type": "groupnorm", "num_groups": 1, "num_channels": 4, "eps": 1e-3},
                  (2, 4, 3, 3)),
    "per_channel": ({"type": "groupnorm", "num_groups": 5, "num_channels": 5}, (2, 5, 4, 4)),
    "no_affine": ({"type": "groupnorm", "num_groups": 3, "num_channels": 6, "affine": False},
                  (2, 6, 3, 5)),
    "features": ({"type": "groupnorm", "num_groups": 2, "num_channels": 8}, (5, 8)),
    "batch_of_one": ({"type": "groupnorm", "num_groups": 4, "num_channels": 8}, (1, 8, 2, 3)),
    "instance": ({"type": "instancenorm2d", "num_features": 3}, (2, 3, 6, 5)),
    "instance_affine": ({"type": "instancenorm2d", "num_features": 4, "affine": True,
                         "eps": 1e-4}, (3, 4, 4, 4)),
    "layer": ({"type": "layernorm", "normalized_shape": 10}, (4, 10)),
    "layer_no_affine": ({"type": "layernorm", "normalized_shape": [6], "eps": 1e-3,
                         "elementwise_affine": False}, (3, 6)),
}


def module_of(entry):
    if entry["type"] == "layernorm":
        return nn.LayerNorm(entry["normalized_shape"], eps=entry.get("eps", 1e-5),
                            elementwise_affine=entry.get("elementwise_affine", True))
    if entry["type"] == "groupnorm":
        return nn.GroupNorm(entry["num_groups"], entry["num_channels"],
                            eps=entry.get("eps", 1e-5), affine=entry.get("affine", True))
    return nn.InstanceNorm2d(entry["num_features"], eps=entry.get("eps", 1e-5),
                             affine=entry.get("affine", False))


def run(module, x, dy):
    """y and the gradients of sum(y * dy) with respect to x and the module's parameters."""
    xin = x.clone().requires_grad_(True)
    y = module(xin)
    (y * dy).sum().backward()
    grads = {"dx": xin.grad}
    if getattr(module, "weight", None) is not None:
        grads["dweight"] = module.weight.grad
        grads["dbias"] = module.bias.grad
    return dict(y=y.detach(), **grads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "groupnorm_parity.safetensors"))
    args = parser.parse_args()
    torch.manual_seed(2026)
    torch.set_num_threads(1)
    out, cases = {}, {}
    for name, (entry, shape) in CASES.items():
        module = module_of(entry)
        if getattr(module, "weight", None) is not None:
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
        x = torch.empty(shape).uniform_(-2, 3)
        x[:, 1::2] *= 2  # channels of a group on different scales
        dy = torch.empty(shape).uniform_(-1, 1)
        got = run(module, x, dy)
        wide = module_of(entry).double()
        if getattr(module, "weight", None) is not None:
            with torch.no_grad():
                wide.weight.copy_(module.weight.double())
                wide.bias.copy_(module.bias.double())
        exact = run(wide, x.double(), dy.double())
        for key, value in got.items():
            err = ((value.double() - exact[key]).abs() / (1 + exact[key].abs())).max().item()
            if err > 2e-6:
                sys.exit(f"{name}.{key}: float32 and float64 differ by {err:.2e}")
        out[name + ".x"] = x.numpy()
        if getattr(module, "weight", None) is not None:
            out[name + ".weight"] = module.weight.detach().numpy().copy()
            out[name + ".bias"] = module.bias.detach().numpy().copy()
        out[name + ".dy"] = dy.numpy()
        for key, value in got.items():
            out[name + "." + key] = value.numpy().copy()
        cases[name] = [entry, repr(module), list(shape)]
    save_safetensors(args.out, out, {"cases": json.dumps(cases), "torch": torch.__version__})
    print("wrote", args.out)


if __name__ == "__main__":
    main()
