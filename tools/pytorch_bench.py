#!/usr/bin/env python3
"""Training-step throughput of a PyTorch model on synthetic data: the peer of
`cnnengine bench` in tools/bench_gpu.sh (same networks, same batch, same
optimizer), timed with CUDA events after warm-up.

    python3 tools/pytorch_bench.py --model simplecnn|resnet18 --batch N
        [--steps 100] [--warmup 20] [--device cuda|cpu] [--channels-last] [--amp bf16]
        [--compile]

Prints one line: RESULT peer=pytorch model=... batch=... ms_per_step=... images_per_second=...
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_pytorch_load import ResNet18Cifar  # noqa: E402
from pytorch_tutorial import SimpleCNN  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["simplecnn", "resnet18"], default="simplecnn")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--no-tf32", action="store_true",
                   help="strict FP32 convolutions (cudnn.allow_tf32 = False; TF32 is the default)")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads (torch.set_num_threads); 0 = PyTorch's default")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)

    class SimpleCNNReshape(SimpleCNN):
        """The tutorial's net with reshape instead of view: view fails on a
        channels-last activation; on a contiguous one the two are the same."""

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = x.reshape(-1, 16 * 5 * 5)
            x = torch.relu(self.fc1(x))
            x = torch.relu(self.fc2(x))
            return self.fc3(x)

    torch.backends.cudnn.allow_tf32 = not a.no_tf32
    torch.backends.cudnn.benchmark = True  # time the algorithms, as cnnengine's cudnnFind does
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = (SimpleCNNReshape() if a.model == "simplecnn" else ResNet18Cifar()).to(dev)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if a.compile:
        model = torch.compile(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, 32, 32, device=dev).to(memory_format=fmt)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    scaler = torch.cuda.amp.GradScaler() if a.amp == "fp16" else None

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=dtype, enabled=dtype is not None):
            loss = crit(model(x), y)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(a.steps):
            step()
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / a.steps
    else:
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        ms = (time.perf_counter() - t0) * 1000 / a.steps
    print(f"RESULT peer=pytorch model={a.model} batch={a.batch} device={a.device} "
          f"channels_last={int(a.channels_last)} tf32={int(not a.no_tf32)} amp={a.amp} compile={int(a.compile)} "
          f"threads={torch.get_num_threads()} torch={torch.__version__} ms_per_step={ms:.4f} images_per_second={a.batch * 1000 / ms:.0f}")


if __name__ == "__main__":
    main()
