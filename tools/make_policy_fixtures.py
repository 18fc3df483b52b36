#!/usr/bin/python3
"""Makes tests/fixtures/augment_policy.safetensors: torchvision's automatic augmentation ops.

Run with Debian's CPU PyTorch and torchvision
(apt-get install python3-torch python3-torchvision python3-numpy):
    /usr/bin/python3 tools/make_policy_fixtures.py [--out FILE]

The yardstick of tests/augment_policy_test.cpp for data.augment.policy: every op of
torchvision.transforms.autoaugment._apply_op (what TrivialAugmentWide, RandAugment and
AutoAugment apply, with their defaults: nearest interpolation, fill None = 0) on uint8
image tensors, each at several magnitudes and both signs, and the magnitude tables the
three policies draw from. It holds, as safetensors:
  rgb                 U8 (5, 3, 32, 32): synthetic images (noise, a low-contrast one, a
                      constant one, few levels, gradients with a constant channel)
  gray                U8 (2, 1, 28, 28): the same kinds in one channel
  case_op             I32 (K): the op of case k, cnnengine's PolicyOp order (below)
  case_magnitude      F32 (K): its magnitude, as _apply_op receives it
  case<k>.rgb         U8 (5, 3, 32, 32): _apply_op(rgb, op, magnitude)
  case<k>.gray        U8 (2, 1, 28, 28): the same on gray
  trivial.<op>        F32 (31): TrivialAugmentWide's magnitudes of op (bins 31)
  rand<B>_<S>.<op>    F32 (B): RandAugment's for B bins and image size S (the
                      translations depend on it); AutoAugment's are rand10_<S>
The metadata names the ops in order.
"""
import argparse
import os
import sys

import numpy as np
import torch
from torchvision.transforms import InterpolationMode, autoaugment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import save_safetensors  # noqa: E402

# cnnengine's PolicyOp order: RandAugment's and TrivialAugmentWide's augmentation space,
# then AutoAugment's Invert.
OPS = ["Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
       "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize",
       "Invert"]

# (op, magnitudes): both signs of the signed ops; float32 values, as the policies' tables hold.
MAGNITUDES = {
    "Identity": [0.0],
    "ShearX": [0.3, -0.3, 0.99, -0.66, 0.033, 0.17],
    "ShearY": [0.3, -0.3, 0.99, -0.66, 0.033, 0.17],
    "TranslateX": [3.2, -3.2, 14.5, -9.0, 32.0, 0.9],
    "TranslateY": [3.2, -3.2, 14.5, -9.0, 32.0, 0.9],
    "Rotate": [30.0, -30.0, 135.0, -4.5, 13.5, 90.0, 67.5],
    "Brightness": [0.9, -0.9, 0.33, -0.99, 0.066],
    "Color": [0.9, -0.9, 0.33, -0.99, 0.066],
    "Contrast": [0.9, -0.9, 0.33, -0.99, 0.066],
    "Sharpness": [0.9, -0.9, 0.33, -0.99, 0.066],
    "Posterize": [8.0, 7.0, 4.0, 2.0],
    "Solarize": [255.0, 127.5, 0.0, 8.5, 246.5],
    "AutoContrast": [0.0],
    "Equalize": [0.0],
    "Invert": [0.0],
}


def synthetic_images(rng, count, channels, size):
    images = np.empty((count, channels, size, size), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    kinds = [
        lambda: rng.integers(0, 256, (channels, size, size)),
        lambda: rng.integers(100, 141, (channels, size, size)),  # low contrast
        lambda: np.full((channels, size, size), 77),  # constant: AutoContrast's, Equalize's edge
        lambda: rng.choice([0, 64, 200, 255], (channels, size, size)),  # few levels
        lambda: np.stack([(xx * 255 // (size - 1) + 40 * c) % 256 for c in range(channels)]),
        lambda: np.stack([((xx // 4 + yy // 4) % 2) * 180 + 30 + 10 * c for c in range(channels)]),
        lambda: np.clip(rng.normal(128, 40, (channels, size, size)), 0, 255),
        lambda: np.stack([(yy * 7 + xx * 3 + 60 * c) % 256 for c in range(channels)]),
    ]
    for i in range(count):
        images[i] = np.asarray(kinds[i % len(kinds)](), dtype=np.int64).astype(np.uint8)
    # a constant channel beside varying ones: per-channel statistics
    if channels == 3:
        images[4, 1] = 255
    return images


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "fixtures", "augment_policy.safetensors"))
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    rgb = synthetic_images(rng, 5, 3, 32)
    gray = synthetic_images(rng, 2, 1, 28)
    tensors = {"rgb": rgb, "gray": gray}
    case_op, case_magnitude, outputs = [], [], {}
    for op in OPS:
        for m in MAGNITUDES[op]:
            magnitude = float(np.float32(m))
            k = len(case_op)
            case_op.append(OPS.index(op))
            case_magnitude.append(magnitude)
            for name, images in (("rgb", rgb), ("gray", gray)):
                out = [autoaugment._apply_op(torch.from_numpy(img.copy()), op, magnitude,
                                             interpolation=InterpolationMode.NEAREST, fill=None)
                       for img in images]
                outputs[f"case{k}.{name}"] = torch.stack(out).numpy()
    tensors["case_op"] = np.array(case_op, np.int32)
    tensors["case_magnitude"] = np.array(case_magnitude, np.float32)
    tensors.update(outputs)

    def tables(prefix, space):
        for op, (magnitudes, _signed) in space.items():
            if magnitudes.ndim > 0:
                tensors[f"{prefix}.{op}"] = magnitudes.to(torch.float32).numpy()

    tables("trivial", autoaugment.TrivialAugmentWide()._augmentation_space(31))
    for bins in (31, 10, 7):
        for size in (32, 28):
            tables(f"rand{bins}_{size}",
                   autoaugment.RandAugment()._augmentation_space(bins, (size, size)))
    save_safetensors(args.out, tensors, {"ops": ",".join(OPS),
                                         "torchvision": __import__("torchvision").__version__})
    print(f"wrote {args.out}: {len(case_op)} cases")


if __name__ == "__main__":
    main()
