#!/usr/bin/python3
"""Makes tests/fixtures/schedules.json: the learning rate (and momentum) that
torch.optim.lr_scheduler's schedulers give each step, for tests/schedule_test.cpp
(cnnengine's training.schedule types, warmup included).

Run with Debian's CPU PyTorch (apt-get install python3-torch):
    /usr/bin/python3 tools/make_schedule_fixtures.py [--out tests/fixtures/schedules.json]

Each case: the cnnengine training.schedule object, the optimizer (lr, momentum), the run's
epochs and steps per epoch, and the rates PyTorch's optimizer holds for each of the run's
units (steps for unit "step", epochs for unit "epoch"), read before scheduler.step(). A
schedule with `warmup` is SequentialLR([LinearLR(warmup_start_factor, 1, warmup), main],
milestones=[warmup]), as cnnengine documents it.
"""
import argparse
import json
import os
import warnings

import torch
from torch.optim import lr_scheduler

EPOCHS, STEPS_PER_EPOCH = 6, 10  # 60 steps: the step-unit cases run all of them

CASES = {
    "step_epochs": {"type": "step", "step_size": 2, "gamma": 0.5},
    "multistep_steps": {"type": "multistep", "unit": "step", "milestones": [7, 20, 41],
                        "gamma": 0.3},
    "cosine_steps": {"type": "cosine", "unit": "step", "t_max": 60, "eta_min": 0.001},
    "restarts_steps": {"type": "cosine_restarts", "unit": "step", "t_0": 7, "t_mult": 2,
                       "eta_min": 0.001},
    "restarts_epochs": {"type": "cosine_restarts", "t_0": 2},
    "warmup_restarts": {"type": "cosine_restarts", "unit": "step", "t_0": 10, "warmup": 4},
    "exponential_epochs": {"type": "exponential", "gamma": 0.7},
    "exponential_steps": {"type": "exponential", "unit": "step", "gamma": 1.12},
    "polynomial_linear": {"type": "polynomial", "unit": "step", "total_iters": 60},
    "polynomial_square": {"type": "polynomial", "unit": "step", "total_iters": 45, "power": 2.0},
    "polynomial_sqrt_epochs": {"type": "polynomial", "total_iters": 4, "power": 0.5},
    "polynomial_whole_run": {"type": "polynomial", "unit": "step", "power": 1.5},
    "warmup_exponential": {"type": "exponential", "unit": "step", "gamma": 0.95, "warmup": 8,
                           "warmup_start_factor": 0.25},
    "warmup_polynomial": {"type": "polynomial", "unit": "step", "warmup": 5, "power": 1.0},
    "cyclic": {"type": "cyclic", "max_lr": 0.5, "step_size_up": 7},
    "onecycle": {"type": "onecycle", "max_lr": 0.4, "pct_start": 0.25},
}
LR, MOMENTUM = 0.1, 0.9


def units(spec):
    step_clock = spec.get("unit", "step" if spec["type"] in ("onecycle", "cyclic") else "epoch")
    return EPOCHS * STEPS_PER_EPOCH if step_clock == "step" else EPOCHS


def main_scheduler(optimizer, spec, length):
    kind = spec["type"]
    if kind == "step":
        return lr_scheduler.StepLR(optimizer, spec["step_size"], spec["gamma"])
    if kind == "multistep":
        return lr_scheduler.MultiStepLR(optimizer, spec["milestones"], spec["gamma"])
    if kind == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, spec["t_max"], spec["eta_min"])
    if kind == "cosine_restarts":
        return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, spec["t_0"],
                                                        spec.get("t_mult", 1),
                                                        spec.get("eta_min", 0))
    if kind == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, spec["gamma"])
    if kind == "polynomial":  # total_iters absent: cnnengine's whole run after warmup
        return lr_scheduler.PolynomialLR(optimizer, spec.get("total_iters", length),
                                         spec.get("power", 1.0))
    if kind == "cyclic":
        return lr_scheduler.CyclicLR(optimizer, LR, spec["max_lr"],
                                     step_size_up=spec["step_size_up"], mode="triangular")
    if kind == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, spec["max_lr"], total_steps=length,
                                       pct_start=spec["pct_start"])
    raise ValueError(kind)


def rates(spec):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=MOMENTUM)
    total = units(spec)
    warmup = spec.get("warmup", 0)
    main = main_scheduler(optimizer, spec, total - warmup)
    scheduler = main
    if warmup:
        # SequentialLR replays the main scheduler's construction: build the warmup after it.
        first = lr_scheduler.LinearLR(optimizer, spec.get("warmup_start_factor", 0.1), 1.0,
                                      warmup)
        scheduler = lr_scheduler.SequentialLR(optimizer, [first, main], milestones=[warmup])
    lrs, momenta = [], []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return lrs, momenta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "schedules.json"))
    args = parser.parse_args()
    # SequentialLR steps the main scheduler with an epoch at the milestone (its closed form).
    warnings.filterwarnings("ignore", message="The epoch parameter")
    cases = {}
    for name, spec in CASES.items():
        lrs, momenta = rates(spec)
        cases[name] = {"schedule": spec, "lr": LR, "momentum": MOMENTUM, "epochs": EPOCHS,
                       "steps_per_epoch": STEPS_PER_EPOCH, "lrs": lrs, "momenta": momenta}
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
