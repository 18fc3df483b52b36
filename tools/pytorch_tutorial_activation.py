#!/usr/bin/python3
"""The tutorial's PyTorch program (tools/pytorch_tutorial.py) with its torch.relu calls
swapped for another activation, the peer of cnnengine's tutorial config with its relu
layers replaced (docs/BENCHMARKS.md, "Other activations").

    /usr/bin/python3 tools/pytorch_tutorial_activation.py ACT [pytorch_tutorial.py options]

ACT: tanh, sigmoid, leaky_relu, elu, silu, gelu, relu6, hardsigmoid, hardswish, mish or selu
(PyTorch's defaults)."""
import os
import sys

import torch
import torch.nn.functional as F

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "leaky_relu": F.leaky_relu,
               "elu": F.elu, "silu": F.silu, "gelu": F.gelu, "relu6": F.relu6,
               "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "mish": F.mish,
               "selu": F.selu}

if len(sys.argv) < 2 or sys.argv[1] not in ACTIVATIONS:
    sys.exit("usage: pytorch_tutorial_activation.py {%s} [options]" % ",".join(ACTIVATIONS))
torch.relu = ACTIVATIONS[sys.argv.pop(1)]  # SimpleCNN.forward calls torch.relu
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_tutorial  # noqa: E402

pytorch_tutorial.main()
