#!/usr/bin/python3
"""Loads a cnnengine checkpoint into the matching PyTorch model with
load_state_dict(strict=True) and compares eval-mode logits with cnnengine's.

    /usr/bin/python3 tools/check_pytorch_load.py CHECKPOINT {simplecnn|resnet18} [LOGITS.json]

The safetensors file is read with json + numpy (no safetensors package
needed), which is what safetensors.torch.load_file does. The models are the
tutorial's SimpleCNN and a CIFAR ResNet-18 written with torchvision's module
names (configs/resnet18.json uses the same names).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_tutorial import SimpleCNN  # noqa: E402  the tutorial's network

DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def load_file(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18Cifar(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, (width, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, width, stride),
                                                     BasicBlock(width, width, 1)))
            cin = width
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model = {"simplecnn": SimpleCNN, "resnet18": ResNet18Cifar}[sys.argv[2]]()
    state = load_file(sys.argv[1])
    result = model.load_state_dict(state, strict=True)
    print(f"load_state_dict(strict=True): OK ({len(state)} tensors) {result}")
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
    print("logits[0][:5]:", [round(v, 5) for v in logits[0][:5].tolist()])


if __name__ == "__main__":
    main()
