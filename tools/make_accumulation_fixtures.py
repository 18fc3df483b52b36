#!/usr/bin/python3
"""Makes tests/fixtures/accumulation_parity.safetensors: gradient accumulation in PyTorch.

Run with Debian's CPU PyTorch (apt-get install python3-torch python3-numpy):
    /usr/bin/python3 tools/make_accumulation_fixtures.py [--out FILE]

The yardstick of tests/accumulation_test.cpp for training.accumulate_steps K: the
usual PyTorch loop that divides each batch's loss by the number of batches in its
group, calls backward() on each and optimizer.step() (and the scheduler's step) once
per group. The data is IMAGES images, unshuffled, in batches of BATCH, so an epoch has
a short last batch and, for K = 4, a short last group: the step's gradient is then the
mean over that group's batches, and the epoch has ceil(batches / K) steps, which is
what OneCycleLR's total_steps counts. The network is make_parity_fixtures.py's
ResidualTiny (BatchNorm: running statistics and num_batches_tracked move per batch).
It holds, as safetensors:
  pixels                  U8 (IMAGES, 3, 8, 8), planar RGB like CIFAR-10
  labels                  I32 (IMAGES)
  init.<name>             the state_dict to start from (seed 5)
  <recipe>.final.<name>   the state_dict after EPOCHS epochs
The metadata holds the network (cnnengine's JSON) and the recipes in cnnengine's
config terms (training.accumulate_steps, optimizer, schedule, clip_grad_norm).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixtures import (RESIDUAL_CONFIG, ResidualTiny, make_optimizer,  # noqa: E402
                                  to_input)
from safetensors_file import save_safetensors  # noqa: E402

IMAGES = 22  # batches of 4, 4, 4, 4, 4 and 2
BATCH = 4
EPOCHS = 3
RECIPES = {
    # One step per batch through the trainer: the control for the others.
    "sgd_k1": {"accumulate_steps": 1,
               "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9}},
    # Groups of 4 and 2 batches: two steps per epoch, six in all for OneCycleLR.
    "sgd_onecycle_k4": {"accumulate_steps": 4,
                        "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9,
                                      "weight_decay": 1e-3},
                        "schedule": {"type": "onecycle", "max_lr": 0.2}},
    # clip_grad_norm_ on the accumulated gradient, before the step.
    "adam_clip_k3": {"accumulate_steps": 3,
                     "optimizer": {"type": "adam", "lr": 0.01},
                     "clip_grad_norm": 0.5},
}


def train(spec, init, x, y):
    net = ResidualTiny()
    net.load_state_dict(init)
    optimizer = make_optimizer(net.parameters(), spec["optimizer"])
    k = spec["accumulate_steps"]
    batches = [(a, min(a + BATCH, IMAGES)) for a in range(0, IMAGES, BATCH)]
    steps_per_epoch = math.ceil(len(batches) / k)
    scheduler = None
    if "schedule" in spec:
        assert spec["schedule"]["type"] == "onecycle"
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=spec["schedule"]["max_lr"], total_steps=EPOCHS * steps_per_epoch)
    criterion = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        for first in range(0, len(batches), k):
            group = batches[first:first + k]
            optimizer.zero_grad()
            for a, b in group:
                loss = criterion(net(x[a:b]), y[a:b]) / len(group)
                loss.backward()
            if "clip_grad_norm" in spec:
                nn.utils.clip_grad_norm_(net.parameters(), spec["clip_grad_norm"])
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return net.state_dict()


def state_arrays(prefix, state):
    out = {}
    for k, v in state.items():
        v = v.detach().numpy().copy()
        out[f"{prefix}.{k}"] = v  # num_batches_tracked stays I64, like PyTorch's
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/accumulation_parity.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(5)
    init = {k: v.clone() for k, v in ResidualTiny().state_dict().items()}
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(IMAGES, 3, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(IMAGES,)).astype(np.int32)
    x, y = to_input(pixels), torch.from_numpy(labels).long()
    out = {"pixels": pixels, "labels": labels}
    out.update(state_arrays("init", init))
    for recipe, spec in RECIPES.items():
        out.update(state_arrays(f"{recipe}.final", train(spec, init, x, y)))
    metadata = {"generator": "tools/make_accumulation_fixtures.py",
                "torch_version": torch.__version__, "batch": str(BATCH), "epochs": str(EPOCHS),
                "network": json.dumps(RESIDUAL_CONFIG), "recipes": json.dumps(RECIPES)}
    save_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
