#!/usr/bin/python3
"""Makes tests/fixtures/simplecnn_parity.safetensors from the tutorial's PyTorch model.

Run with Debian's CPU PyTorch (apt-get install python3-torch python3-numpy):
    /usr/bin/python3 tools/make_parity_fixtures.py [--out tests/fixtures/simplecnn_parity.safetensors]

The file is the yardstick of tests/parity_test.cpp (llm.c's idea): cnnengine must
reproduce, within a tight tolerance, what PyTorch computes from the same start.
It holds, as safetensors (written here with json + struct, no extra package):
  init.<param>            the model's initial weights (PyTorch's default init, seed 1234)
  batch.<k>.pixels        U8 (4, 3, 32, 32) images of step k, planar RGB like CIFAR-10
  batch.<k>.labels        I32 (4) labels of step k
  grad0.<param>           the gradients of the first step (same for every recipe)
  <recipe>.losses         F32 (steps) the loss before each update
  <recipe>.final.<param>  the weights after all steps
Recipes: "tutorial" = SGD(lr=0.001, momentum=0.9);
         "decay"    = SGD(lr=0.01, momentum=0.9, dampening=0.1, weight_decay=5e-4).
Inputs go through ToTensor + Normalize(0.5, 0.5) exactly as torchvision does it.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_tutorial import SimpleCNN  # noqa: E402  the tutorial's network, verbatim

STEPS = 5
BATCH = 4
RECIPES = {
    "tutorial": dict(lr=0.001, momentum=0.9),
    "decay": dict(lr=0.01, momentum=0.9, dampening=0.1, weight_decay=5e-4),
}


def to_input(pixels):
    """ToTensor + Normalize((0.5,)*3, (0.5,)*3), in torchvision's order and dtype."""
    x = torch.from_numpy(pixels).float().div(255)
    return x.sub(0.5).div(0.5)


def save_safetensors(path, tensors, metadata):
    dtypes = {np.float32: "F32", np.int32: "I32", np.uint8: "U8"}
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        data = array.tobytes()
        header[name] = {"dtype": dtypes[array.dtype.type], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/simplecnn_parity.safetensors")
    args = parser.parse_args()

    torch.manual_seed(1234)
    torch.set_num_threads(1)
    base = SimpleCNN()
    init = {k: v.detach().clone() for k, v in base.state_dict().items()}
    rng = np.random.default_rng(1234)
    pixels = [rng.integers(0, 256, size=(BATCH, 3, 32, 32), dtype=np.uint8) for _ in range(STEPS)]
    labels = [rng.integers(0, 10, size=(BATCH,)).astype(np.int32) for _ in range(STEPS)]

    out = {f"init.{k}": v.numpy() for k, v in init.items()}
    for k in range(STEPS):
        out[f"batch.{k}.pixels"] = pixels[k]
        out[f"batch.{k}.labels"] = labels[k]

    criterion = nn.CrossEntropyLoss()
    for recipe, hyper in RECIPES.items():
        net = SimpleCNN()
        net.load_state_dict(init)
        optimizer = optim.SGD(net.parameters(), **hyper)
        losses = []
        for k in range(STEPS):
            optimizer.zero_grad()
            loss = criterion(net(to_input(pixels[k])), torch.from_numpy(labels[k]).long())
            loss.backward()
            losses.append(loss.item())
            if k == 0 and recipe == "tutorial":
                for name, p in net.named_parameters():
                    out[f"grad0.{name}"] = p.grad.detach().numpy().copy()
            optimizer.step()
        out[f"{recipe}.losses"] = np.array(losses, dtype=np.float32)
        for name, v in net.state_dict().items():
            out[f"{recipe}.final.{name}"] = v.numpy().copy()

    metadata = {"generator": "tools/make_parity_fixtures.py", "torch_version": torch.__version__,
                "steps": str(STEPS), "batch": str(BATCH),
                "recipes": json.dumps(RECIPES)}
    save_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
