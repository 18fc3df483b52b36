#!/usr/bin/python3
"""Makes tests/fixtures/swa_parity.safetensors: stochastic weight averaging in PyTorch.

Run with Debian's CPU PyTorch (apt-get install python3-torch python3-numpy):
    /usr/bin/python3 tools/make_swa_fixtures.py [--out FILE]

The yardstick of tests/swa_test.cpp for training.swa: the loop of PyTorch's
torch.optim.swa_utils documentation, with the SWALR scheduler made before the loop
beside the main one, and the first averaged epoch START (1-based; the documentation's
`if epoch > swa_start` with a 0-based epoch is START = swa_start + 2):

    swa_model = AveragedModel(model); swa_scheduler = SWALR(optimizer, swa_lr, ...)
    for epoch in range(EPOCHS):
        train one epoch
        if epoch + 1 >= START: swa_model.update_parameters(model); swa_scheduler.step()
        else: scheduler.step()
    update_bn(loader, swa_model)

update_bn's loader is the training images in order, in batches of BATCH, without
augmentation (what cnnengine's refresh of the average's statistics reads). The data is
IMAGES images, unshuffled; the network is make_parity_fixtures.py's ResidualTiny
(three BatchNorm layers). It holds, as safetensors:
  pixels                    U8 (IMAGES, 3, 8, 8), planar RGB like CIFAR-10
  labels                    I32 (IMAGES)
  init.<name>               the state_dict to start from (seed 7)
  <recipe>.trained.<name>   the model's state_dict after EPOCHS epochs
  <recipe>.average.<name>   swa_model.module's state_dict after update_bn
  <recipe>.lr               F32 (EPOCHS): the learning rate each epoch trained with
The metadata holds the network (cnnengine's JSON) and the recipes in cnnengine's
config terms (training.epochs, optimizer, schedule, swa).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.optim import swa_utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixtures import (RESIDUAL_CONFIG, ResidualTiny, make_optimizer,  # noqa: E402
                                  to_input)
from safetensors_file import save_safetensors  # noqa: E402

IMAGES = 22  # batches of 4, 4, 4, 4, 4 and 2
BATCH = 4
RECIPES = {
    # Cosine annealing, then from epoch 4 on the average, the rate annealed (cos) to 0.02
    # over 2 epochs.
    "sgd_cosine": {"epochs": 7,
                   "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9,
                                 "weight_decay": 1e-4},
                   "schedule": {"type": "cosine", "t_max": 6},
                   "swa": {"start_epoch": 4, "lr": 0.02, "anneal_epochs": 2,
                           "anneal_strategy": "cos"}},
    # Adam with StepLR; linear annealing over 3 epochs, averaged from epoch 2.
    "adam_step_linear": {"epochs": 6,
                         "optimizer": {"type": "adam", "lr": 0.01},
                         "schedule": {"type": "step", "step_size": 1, "gamma": 0.5},
                         "swa": {"start_epoch": 2, "lr": 0.004, "anneal_epochs": 3,
                                 "anneal_strategy": "linear"}},
}


def make_main_scheduler(optimizer, schedule):
    if schedule["type"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=schedule["t_max"])
    assert schedule["type"] == "step"
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=schedule["step_size"],
                                           gamma=schedule["gamma"])


def train(spec, init, x, y):
    net = ResidualTiny()
    net.load_state_dict(init)
    optimizer = make_optimizer(net.parameters(), spec["optimizer"])
    scheduler = make_main_scheduler(optimizer, spec["schedule"])
    swa = spec["swa"]
    swa_model = swa_utils.AveragedModel(net)
    swa_scheduler = swa_utils.SWALR(optimizer, swa_lr=swa["lr"],
                                    anneal_epochs=swa["anneal_epochs"],
                                    anneal_strategy=swa["anneal_strategy"])
    criterion = nn.CrossEntropyLoss()
    lrs = []
    for epoch in range(spec["epochs"]):
        lrs.append(optimizer.param_groups[0]["lr"])
        for a in range(0, IMAGES, BATCH):
            optimizer.zero_grad()
            criterion(net(x[a:a + BATCH]), y[a:a + BATCH]).backward()
            optimizer.step()
        if epoch + 1 >= swa["start_epoch"]:
            swa_model.update_parameters(net)
            swa_scheduler.step()
        else:
            scheduler.step()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=BATCH,
                                         shuffle=False)
    swa_utils.update_bn(loader, swa_model)
    return net.state_dict(), swa_model.module.state_dict(), np.array(lrs, dtype=np.float32)


def state_arrays(prefix, state):
    return {f"{prefix}.{k}": v.detach().numpy().copy() for k, v in state.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/swa_parity.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(7)
    init = {k: v.clone() for k, v in ResidualTiny().state_dict().items()}
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(IMAGES, 3, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(IMAGES,)).astype(np.int32)
    x, y = to_input(pixels), torch.from_numpy(labels).long()
    out = {"pixels": pixels, "labels": labels}
    out.update(state_arrays("init", init))
    for recipe, spec in RECIPES.items():
        trained, average, lrs = train(spec, init, x, y)
        out.update(state_arrays(f"{recipe}.trained", trained))
        out.update(state_arrays(f"{recipe}.average", average))
        out[f"{recipe}.lr"] = lrs
    metadata = {"generator": "tools/make_swa_fixtures.py", "torch_version": torch.__version__,
                "batch": str(BATCH), "network": json.dumps(RESIDUAL_CONFIG),
                "recipes": json.dumps(RECIPES)}
    save_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
