#!/usr/bin/python3
"""Makes tests/fixtures/param_init.json: what torch.nn.init's initializers give, for
tests/param_init_test.cpp (cnnengine's weight_init / bias_init, Note [parameter init]
in engine/param_init.h).

Run with Debian's CPU PyTorch (apt-get install python3-torch):
    /usr/bin/python3 tools/make_init_fixtures.py [--out tests/fixtures/param_init.json]

Each case: a parameter's shape, the cnnengine init value (a name or an object), and what
PyTorch makes of it: the standard deviation its formula sets (from torch's own
_calculate_fan_in_and_fan_out and calculate_gain), the bound of the uniform ones, and
the mean, standard deviation, minimum and maximum of a tensor it filled (seed 1234).
cnnengine draws its own numbers, so the test compares distributions, not values.
"""
import argparse
import json
import math
import os

import torch
import torch.nn.init as init

CASES = {
    # torchvision's ResNet: every Conv2d
    "resnet_conv": ((128, 64, 3, 3), {"type": "kaiming_normal", "mode": "fan_out",
                                      "nonlinearity": "relu"}),
    "kaiming_normal_default": ((256, 32, 3, 3), "kaiming_normal"),
    "kaiming_uniform_relu": ((200, 300), {"type": "kaiming_uniform", "nonlinearity": "relu"}),
    "kaiming_uniform_leaky": ((64, 16, 5, 5), {"type": "kaiming_uniform", "a": 0.2}),
    "kaiming_grouped": ((96, 4, 3, 3), {"type": "kaiming_normal", "mode": "fan_in",
                                        "nonlinearity": "tanh"}),  # groups: C / groups = 4
    "xavier_uniform": ((400, 120), "xavier_uniform"),
    "xavier_normal_gain": ((84, 120), {"type": "xavier_normal", "gain": 2.0}),
    "xavier_conv_selu": ((32, 16, 3, 3), {"type": "xavier_uniform", "gain": 0.75}),
    "normal_vgg": ((512, 4096), {"type": "normal", "std": 0.01}),
    "normal_mean": ((50000,), {"type": "normal", "mean": 0.5, "std": 2.0}),
    "trunc_normal_vit": ((768, 384), {"type": "trunc_normal", "std": 0.02}),
    "trunc_normal_narrow": ((60000,), {"type": "trunc_normal", "mean": 0.0, "std": 1.0,
                                       "a": -0.5, "b": 1.0}),
    "uniform": ((40000,), {"type": "uniform", "a": -0.3, "b": 0.7}),
    "constant": ((64,), {"type": "constant", "val": 0.25}),
    "zeros": ((64,), "zeros"),
    "ones": ((10, 10), "ones"),
}


def fill(t, spec):
    s = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = s.pop("type")
    if kind in ("zeros", "ones"):
        getattr(init, kind + "_")(t)
    else:
        getattr(init, kind + "_")(t, **s)


def formula(shape, spec):
    """The standard deviation (and uniform bound) torch's formula gives, or None."""
    s = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = s["type"]
    t = torch.empty(shape)
    if kind.startswith("kaiming"):
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
        fan = fan_in if s.get("mode", "fan_in") == "fan_in" else fan_out
        gain = init.calculate_gain(s.get("nonlinearity", "leaky_relu"), s.get("a", 0))
        std = gain / math.sqrt(fan)
    elif kind.startswith("xavier"):
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
        std = s.get("gain", 1.0) * math.sqrt(2.0 / float(fan_in + fan_out))
    else:
        return None, None
    return std, (math.sqrt(3.0) * std if kind.endswith("uniform") else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "param_init.json"))
    args = parser.parse_args()
    torch.manual_seed(1234)
    cases = []
    for name, (shape, spec) in CASES.items():
        t = torch.empty(shape)
        fill(t, spec)
        t = t.double()
        std, bound = formula(shape, spec)
        cases.append({"name": name, "shape": list(shape), "init": spec,
                      "formula_std": std, "formula_bound": bound,
                      "mean": t.mean().item(), "std": t.std(unbiased=False).item(),
                      "min": t.min().item(), "max": t.max().item()})
    with open(args.out, "w") as f:
        json.dump({"generator": "tools/make_init_fixtures.py", "torch_version": torch.__version__,
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
