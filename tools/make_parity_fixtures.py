#!/usr/bin/python3
"""Makes tests/fixtures/simplecnn_parity.safetensors from the tutorial's PyTorch model
(and tests/fixtures/residual_parity.safetensors from a small residual BatchNorm network,
tests/fixtures/groupnorm_network_parity.safetensors from the same with GroupNorm and
InstanceNorm2d, tests/fixtures/se_network_parity.safetensors from one with
squeeze-and-excitation gates, ReLU6, Hardsigmoid, Hardswish and Mish).

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
  <recipe>.grad_norms     F32 (steps) clip_grad_norm_'s total norm, for recipes that clip
  <recipe>.average.<param> the averaged weights after all steps, for recipes with ema_decay
                          (conv1.*, fc3.*)
  <recipe>.final.<param>  the weights after all steps (every parameter for the first two
                          recipes; conv1.*, fc3.* for the others, to keep the file small)
The recipes are written in cnnengine's config terms (metadata "recipes":
training.optimizer, training.schedule with unit "step", training.label_smoothing,
training.clip_grad_norm, training.ema_decay; optimizer.no_weight_decay as a second param
group with weight_decay 0) and translated here to torch.optim,
torch.optim.lr_scheduler, CrossEntropyLoss(label_smoothing), nn.utils.clip_grad_norm_
and torch.optim.swa_utils.AveragedModel, stepping the scheduler after every step.
Inputs go through ToTensor + Normalize(0.5, 0.5) exactly as torchvision does it.
"""
import argparse
import fnmatch
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim.swa_utils import AveragedModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_tutorial import SimpleCNN  # noqa: E402  the tutorial's network, verbatim
from safetensors_file import save_safetensors  # noqa: E402
from torch_optimizers import make_optimizer  # noqa: E402

STEPS = 5
BATCH = 4
RECIPES = {
    "tutorial": {"optimizer": {"type": "sgd", "lr": 0.001, "momentum": 0.9}},
    "decay": {"optimizer": {"type": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.1,
                            "weight_decay": 5e-4}},
    "nesterov_smoothing": {"optimizer": {"type": "sgd", "lr": 0.01, "momentum": 0.9,
                                         "nesterov": True, "weight_decay": 1e-3},
                           "label_smoothing": 0.1},
    "adam_step": {"optimizer": {"type": "adam", "lr": 0.001, "weight_decay": 1e-4},
                  "schedule": {"type": "step", "unit": "step", "step_size": 2, "gamma": 0.5}},
    "adamw_onecycle": {"optimizer": {"type": "adamw", "lr": 0.002, "weight_decay": 0.05,
                                     "betas": [0.85, 0.99]},
                       "schedule": {"type": "onecycle", "max_lr": 0.01}},
    "sgd_warmup_cosine": {"optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                          "schedule": {"type": "cosine", "unit": "step", "warmup": 2,
                                       "warmup_start_factor": 0.25, "t_max": 3}},
    # clip_grad_norm_ between backward and step: steps 0, 1 and 4 clip, 2 and 3 do not.
    "sgd_clip": {"optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                 "clip_grad_norm": 0.9},
    # AveragedModel with the EMA avg_fn, updated after every step (a low decay, so that
    # five steps move the average well away from both the first and the last weights).
    "sgd_ema": {"optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                "ema_decay": 0.6},
    # Two param groups, the second with weight_decay 0 (no_weight_decay's patterns); decay
    # strong enough that five steps of it show in every weight.
    "sgd_no_bias_decay": {"optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9,
                                        "nesterov": True, "weight_decay": 0.05,
                                        "no_weight_decay": ["*.bias"]}},
    "adamw_no_decay": {"optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.5,
                                     "no_weight_decay": ["fc3.*", "conv1.bias"]}},
    # AMSGrad: with betas (0.5, 0.6) the second moment shrinks within five steps where a
    # gradient fell, so the running maximum, not the moment, is the denominator there.
    # eps 1e-3 for the conditioning (below the RMSprop recipes).
    "adam_amsgrad": {"optimizer": {"type": "adam", "lr": 0.003, "betas": [0.5, 0.6],
                                   "eps": 1e-3, "amsgrad": True, "weight_decay": 1e-3}},
    "adamw_amsgrad_cosine": {"optimizer": {"type": "adamw", "lr": 0.004, "amsgrad": True,
                                           "betas": [0.8, 0.6], "eps": 1e-3, "weight_decay": 0.1,
                                           "no_weight_decay": ["*.bias"]},
                             "schedule": {"type": "cosine", "unit": "step", "t_max": 5}},
    # RMSprop and Adagrad divide by the root of the squared gradients: where a gradient is
    # near 0 a tiny eps makes the step about lr * sign(g), and float32's rounding of that
    # gradient (its summation order) decides it. eps 1e-3 (TensorFlow's RMSprop, as
    # EfficientNet's recipe uses it) and a non-zero initial accumulator keep these
    # recipes well-conditioned (conditioning() below).
    "rmsprop": {"optimizer": {"type": "rmsprop", "lr": 0.001, "eps": 1e-3}},
    "rmsprop_centered_momentum": {"optimizer": {"type": "rmsprop", "lr": 0.0005, "alpha": 0.9,
                                                "eps": 1e-3, "momentum": 0.8, "centered": True,
                                                "weight_decay": 1e-3}},
    # OneCycleLR cycles RMSprop's momentum (it has one) along with the rate.
    "rmsprop_onecycle": {"optimizer": {"type": "rmsprop", "lr": 0.001, "momentum": 0.9,
                                       "eps": 1e-3},
                         "schedule": {"type": "onecycle", "max_lr": 0.002}},
    "adagrad": {"optimizer": {"type": "adagrad", "lr": 0.01, "initial_accumulator_value": 0.01}},
    "adagrad_decay": {"optimizer": {"type": "adagrad", "lr": 0.02, "lr_decay": 0.3,
                                    "initial_accumulator_value": 0.1, "weight_decay": 1e-3,
                                    "no_weight_decay": ["conv*"]},
                      "schedule": {"type": "step", "unit": "step", "step_size": 2,
                                   "gamma": 0.5}},
}
FULL_FINALS = ("tutorial", "decay")
# Recipes that must be well-conditioned (conditioning()): those added since the check.
WELL_CONDITIONED = ("adam_amsgrad", "adamw_amsgrad_cosine", "rmsprop",
                    "rmsprop_centered_momentum", "rmsprop_onecycle", "adagrad", "adagrad_decay")
SMALL_FINALS = ("conv1.weight", "conv1.bias", "fc3.weight", "fc3.bias")


def param_groups(net, o):
    """net's parameters, in two groups when o has no_weight_decay (fnmatch patterns)."""
    patterns = o.get("no_weight_decay", [])
    if not patterns:
        return net.parameters()
    skip = [p for n, p in net.named_parameters() if any(fnmatch.fnmatch(n, q) for q in patterns)]
    keep = [p for n, p in net.named_parameters()
            if not any(fnmatch.fnmatch(n, q) for q in patterns)]
    return [{"params": keep}, {"params": skip, "weight_decay": 0.0}]


def make_scheduler(optimizer, sched):
    """Per-step schedulers matching cnnengine's closed forms (unit "step")."""
    if sched is None:
        return None
    sch = optim.lr_scheduler
    t = sched["type"]
    if t == "step":
        main = sch.StepLR(optimizer, step_size=sched["step_size"], gamma=sched.get("gamma", 0.1))
    elif t == "cosine":
        main = sch.CosineAnnealingLR(optimizer, T_max=sched["t_max"], eta_min=sched.get("eta_min", 0))
    elif t == "onecycle":
        return sch.OneCycleLR(optimizer, max_lr=sched["max_lr"], total_steps=STEPS)
    else:
        raise ValueError(t)
    warmup = sched.get("warmup", 0)
    if not warmup:
        return main
    linear = sch.LinearLR(optimizer, start_factor=sched["warmup_start_factor"], end_factor=1.0,
                          total_iters=warmup)
    return sch.SequentialLR(optimizer, [linear, main], milestones=[warmup])


def train(spec, init, pixels, labels, dtype=torch.float32, noise=0.0, seed=0):
    """The recipe's five steps from init in dtype; with noise, every gradient gets
    noise * max|g| * N(0, 1) added (float32's rounding of a gradient, roughly)."""
    gen = torch.Generator().manual_seed(seed)
    net = SimpleCNN()
    net.load_state_dict(init)
    net = net.to(dtype)
    optimizer = make_optimizer(param_groups(net, spec["optimizer"]), spec["optimizer"])
    scheduler = make_scheduler(optimizer, spec.get("schedule"))
    criterion = nn.CrossEntropyLoss(label_smoothing=spec.get("label_smoothing", 0.0))
    for k in range(STEPS):
        optimizer.zero_grad()
        loss = criterion(net(to_input(pixels[k]).to(dtype)), torch.from_numpy(labels[k]).long())
        loss.backward()
        for p in net.parameters():
            if noise:
                p.grad.add_(torch.randn(p.grad.shape, generator=gen, dtype=torch.float64).to(dtype)
                            * (noise * p.grad.abs().max()))
        if "clip_grad_norm" in spec:
            nn.utils.clip_grad_norm_(net.parameters(), spec["clip_grad_norm"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return {k: v.detach().double() for k, v in net.state_dict().items()}


def conditioning(spec, init, pixels, labels):
    """How far PyTorch's own float32 run, and float64 runs with 1e-7 relative gradient
    noise, land from its float64 run, as the worst excess over parity_test.cpp's final-
    weight tolerance (1e-6 + 1e-4 * |w|); <= 0: within it."""
    exact = train(spec, init, pixels, labels, torch.float64)

    def excess(w):
        return max(((w[k] - exact[k]).abs() - 1e-6 - 1e-4 * exact[k].abs()).max().item()
                   for k in exact if exact[k].is_floating_point())
    f32 = excess(train(spec, init, pixels, labels, torch.float32))
    noisy = max(excess(train(spec, init, pixels, labels, torch.float64, 1e-7, s))
                for s in range(3))
    return f32, noisy


def to_input(pixels):
    """ToTensor + Normalize((0.5,)*3, (0.5,)*3), in torchvision's order and dtype."""
    x = torch.from_numpy(pixels).float().div(255)
    return x.sub(0.5).div(0.5)




class ResidualTiny(nn.Module):
    """A residual block with BatchNorm, average pooling and a linear head: the
    layers a CIFAR ResNet adds to the tutorial's, small enough for a fixture."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.down = nn.Conv2d(3, 8, 1, bias=False)
        self.downbn = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        h = torch.relu(h + self.downbn(self.down(x)))
        h = nn.functional.adaptive_avg_pool2d(self.pool(h), 1).flatten(1)
        return self.fc(h)


RESIDUAL_CONFIG = {"name": "ResidualTiny", "input": [3, 8, 8], "layers": [
    {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 8, "kernel_size": 3,
     "padding": 1, "bias": False},
    {"type": "batchnorm2d", "name": "bn1", "num_features": 8},
    {"type": "relu", "name": "relu1"},
    {"type": "conv2d", "name": "conv2", "in_channels": 8, "out_channels": 8, "kernel_size": 3,
     "padding": 1, "bias": False},
    {"type": "batchnorm2d", "name": "bn2", "num_features": 8},
    {"type": "conv2d", "name": "down", "in_channels": 3, "out_channels": 8, "kernel_size": 1,
     "bias": False, "inputs": ["input"]},
    {"type": "batchnorm2d", "name": "downbn", "num_features": 8},
    {"type": "add", "name": "join", "inputs": ["bn2", "downbn"]},
    {"type": "relu", "name": "relu2"},
    {"type": "avgpool2d", "name": "pool", "kernel_size": 2},
    {"type": "global_avgpool2d", "name": "gap"},
    {"type": "flatten", "name": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 8, "out_features": 10}]}
RESIDUAL_OPTIMIZER = {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4}


class GroupNormTiny(nn.Module):
    """ResidualTiny with GroupNorm (and InstanceNorm2d on the shortcut) for BatchNorm:
    no running statistics, the same in training and evaluation."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.gn1 = nn.GroupNorm(4, 8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(2, 8)
        self.down = nn.Conv2d(3, 8, 1, bias=False)
        self.downnorm = nn.InstanceNorm2d(8, affine=True)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = torch.relu(self.gn1(self.conv1(x)))
        h = self.gn2(self.conv2(h))
        h = torch.relu(h + self.downnorm(self.down(x)))
        h = nn.functional.adaptive_avg_pool2d(self.pool(h), 1).flatten(1)
        return self.fc(h)


GROUPNORM_CONFIG = json.loads(json.dumps(RESIDUAL_CONFIG).replace("ResidualTiny", "GroupNormTiny"))
GROUPNORM_CONFIG["layers"][1] = {"type": "groupnorm", "name": "gn1", "num_groups": 4,
                                 "num_channels": 8}
GROUPNORM_CONFIG["layers"][4] = {"type": "groupnorm", "name": "gn2", "num_groups": 2,
                                 "num_channels": 8}
GROUPNORM_CONFIG["layers"][6] = {"type": "instancenorm2d", "name": "downnorm",
                                 "num_features": 8, "affine": True}
GROUPNORM_CONFIG["layers"][7]["inputs"] = ["gn2", "downnorm"]


class SqueezeExciteTiny(nn.Module):
    """A residual block with squeeze-and-excitation (Hu et al. 2018) and MobileNetV3's
    activations: an SE gate of 1x1 convolutions, ReLU6 and Hardsigmoid, (N, C, 1, 1),
    on the main branch; a gate of a linear layer and a sigmoid, (N, C), on the shortcut;
    Hardswish and Mish."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.se_reduce = nn.Conv2d(8, 4, 1)
        self.se_expand = nn.Conv2d(4, 8, 1)
        self.down = nn.Conv2d(3, 8, 1, bias=False)
        self.gate_fc = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = nn.functional.hardswish(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = nn.functional.adaptive_avg_pool2d(h, 1)
        s = nn.functional.hardsigmoid(self.se_expand(nn.functional.relu6(self.se_reduce(s))))
        h = h * s
        d = self.down(x)
        g = torch.sigmoid(self.gate_fc(nn.functional.adaptive_avg_pool2d(d, 1).flatten(1)))
        d = g.view(-1, 8, 1, 1) * d
        h = nn.functional.mish(h + d)
        return self.fc(nn.functional.adaptive_avg_pool2d(h, 1).flatten(1))


SE_CONFIG = {"name": "SqueezeExciteTiny", "input": [3, 8, 8], "layers": [
    *RESIDUAL_CONFIG["layers"][0:2],  # conv1, bn1
    {"type": "hardswish", "name": "act1"},
    *RESIDUAL_CONFIG["layers"][3:5],  # conv2, bn2
    {"type": "global_avgpool2d", "name": "se_pool"},
    {"type": "conv2d", "name": "se_reduce", "in_channels": 8, "out_channels": 4, "kernel_size": 1},
    {"type": "relu6", "name": "se_act"},
    {"type": "conv2d", "name": "se_expand", "in_channels": 4, "out_channels": 8, "kernel_size": 1},
    {"type": "hardsigmoid", "name": "se_gate"},
    {"type": "mul", "name": "se_scale", "inputs": ["bn2", "se_gate"]},
    {"type": "conv2d", "name": "down", "in_channels": 3, "out_channels": 8, "kernel_size": 1,
     "bias": False, "inputs": ["input"]},
    {"type": "global_avgpool2d", "name": "down_pool"},
    {"type": "flatten", "name": "down_flat"},
    {"type": "linear", "name": "gate_fc", "in_features": 8, "out_features": 8},
    {"type": "sigmoid", "name": "gate"},
    {"type": "mul", "name": "gated", "inputs": ["gate", "down"]},
    {"type": "add", "name": "join", "inputs": ["se_scale", "gated"]},
    {"type": "mish", "name": "act2"},
    {"type": "global_avgpool2d", "name": "gap"},
    {"type": "flatten", "name": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 8, "out_features": 10}]}


def make_residual_fixture(path, make_net=ResidualTiny, config=RESIDUAL_CONFIG):
    """init.* state_dict, step.<k>.x / .labels, losses, final.* state_dict (running
    statistics and num_batches_tracked included) and eval-mode logits."""
    torch.manual_seed(99)
    net = make_net()
    out = {f"init.{k}": v.detach().numpy().copy() for k, v in net.state_dict().items()}
    for k, v in out.items():
        if v.dtype == np.int64:
            out[k] = v  # num_batches_tracked stays I64, like PyTorch's
    o = RESIDUAL_OPTIMIZER
    optimizer = optim.SGD(net.parameters(), lr=o["lr"], momentum=o["momentum"],
                          weight_decay=o["weight_decay"])
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(7)
    losses = []
    for k in range(STEPS):
        x = torch.randn(BATCH, 3, 8, 8, generator=gen)
        y = torch.randint(0, 10, (BATCH,), generator=gen)
        out[f"step.{k}.x"] = x.numpy().copy()
        out[f"step.{k}.labels"] = y.numpy().astype(np.int32)
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    out["losses"] = np.array(losses, dtype=np.float32)
    for k, v in net.state_dict().items():
        out[f"final.{k}"] = v.detach().numpy().copy()
    net.eval()
    x = torch.randn(BATCH, 3, 8, 8, generator=gen)
    out["eval.x"] = x.numpy().copy()
    with torch.no_grad():
        out["eval.logits"] = net(x).numpy().copy()
    metadata = {"generator": "tools/make_parity_fixtures.py", "torch_version": torch.__version__,
                "steps": str(STEPS), "network": json.dumps(config),
                "optimizer": json.dumps(RESIDUAL_OPTIMIZER)}
    save_safetensors(path, out, metadata)
    print(f"wrote {path}: {len(out)} tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/simplecnn_parity.safetensors")
    parser.add_argument("--residual-out", default="tests/fixtures/residual_parity.safetensors")
    parser.add_argument("--groupnorm-out",
                        default="tests/fixtures/groupnorm_network_parity.safetensors")
    parser.add_argument("--se-out", default="tests/fixtures/se_network_parity.safetensors")
    args = parser.parse_args()
    make_residual_fixture(args.residual_out)
    make_residual_fixture(args.groupnorm_out, GroupNormTiny, GROUPNORM_CONFIG)
    make_residual_fixture(args.se_out, SqueezeExciteTiny, SE_CONFIG)

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

    for recipe, spec in RECIPES.items():
        f32, noisy = conditioning(spec, init, pixels, labels)
        print(f"{recipe}: conditioning: float32 vs float64 {f32:+.2e}, "
              f"float64 with 1e-7 gradient noise {noisy:+.2e} (<= 0: within tolerance)")
        if recipe in WELL_CONDITIONED and max(f32, noisy) > 0:
            sys.exit(f"{recipe}: ill-conditioned (float32 rounding moves it past the tolerance)")
        net = SimpleCNN()
        net.load_state_dict(init)
        criterion = nn.CrossEntropyLoss(label_smoothing=spec.get("label_smoothing", 0.0))
        optimizer = make_optimizer(param_groups(net, spec["optimizer"]), spec["optimizer"])
        scheduler = make_scheduler(optimizer, spec.get("schedule"))
        average = None
        if "ema_decay" in spec:
            d = spec["ema_decay"]
            average = AveragedModel(net, avg_fn=lambda avg, w, n: d * avg + (1 - d) * w)
        losses, lrs, norms = [], [], []
        for k in range(STEPS):
            optimizer.zero_grad()
            loss = criterion(net(to_input(pixels[k])), torch.from_numpy(labels[k]).long())
            loss.backward()
            losses.append(loss.item())
            lrs.append(optimizer.param_groups[0]["lr"])
            if k == 0 and recipe == "tutorial":
                for name, p in net.named_parameters():
                    out[f"grad0.{name}"] = p.grad.detach().numpy().copy()
            if "clip_grad_norm" in spec:
                norms.append(nn.utils.clip_grad_norm_(net.parameters(), spec["clip_grad_norm"]).item())
            optimizer.step()
            if average is not None:
                average.update_parameters(net)
            if scheduler is not None:
                scheduler.step()
        out[f"{recipe}.losses"] = np.array(losses, dtype=np.float32)
        if norms:  # the total norm clip_grad_norm_ returned (before clipping), per step
            out[f"{recipe}.grad_norms"] = np.array(norms, dtype=np.float32)
            print(f"{recipe}: grad norm per step {['%.6g' % v for v in norms]}")
        print(f"{recipe}: lr per step {['%.6g' % v for v in lrs]}")
        for name, v in net.state_dict().items():
            if recipe in FULL_FINALS or name in SMALL_FINALS:
                out[f"{recipe}.final.{name}"] = v.numpy().copy()
        if average is not None:
            for name, v in average.module.state_dict().items():
                if name in SMALL_FINALS:
                    out[f"{recipe}.average.{name}"] = v.detach().numpy().copy()

    metadata = {"generator": "tools/make_parity_fixtures.py", "torch_version": torch.__version__,
                "steps": str(STEPS), "batch": str(BATCH),
                "recipes": json.dumps(RECIPES)}
    save_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
