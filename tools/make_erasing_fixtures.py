#!/usr/bin/python3
"""Makes tests/fixtures/random_erasing.json: how often torchvision's RandomErasing.get_params
draws each erased rectangle size, for tests/random_erasing_test.cpp (data.augment.random_erasing).

Run with Debian's CPU PyTorch and torchvision (apt-get install python3-torchvision):
    /usr/bin/python3 tools/make_erasing_fixtures.py [--out tests/fixtures/random_erasing.json]

Each case: an image size, scale and ratio, the number of draws, and the counts of each
(height, width) of the rectangle get_params returns; a return of the whole image (its fallback
after 10 rejected tries: nothing is erased) is counted as "none". The rectangle's position is
uniform given its size (torch.randint), which the test checks on its own.
"""
import argparse
import collections
import json
import os

import torch
import torchvision
from torchvision import transforms

DRAWS = 100000
CASES = {
    "defaults_32x32": {"size": [32, 32], "scale": [0.02, 0.33], "ratio": [0.3, 3.3]},
    # asymmetric in log(ratio) and a non-square image: a swapped height and width shows
    "wide_24x20": {"size": [24, 20], "scale": [0.1, 0.6], "ratio": [0.5, 1.5]},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "random_erasing.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    cases = {}
    for name, spec in CASES.items():
        h, w = spec["size"]
        image = torch.zeros(3, h, w)
        counts = collections.Counter()
        for _ in range(DRAWS):
            i, j, eh, ew, _v = transforms.RandomErasing.get_params(
                image, scale=tuple(spec["scale"]), ratio=tuple(spec["ratio"]), value=[0])
            counts["none" if (eh, ew) == (h, w) else f"{eh},{ew}"] += 1
        cases[name] = dict(spec, draws=DRAWS, counts=dict(sorted(counts.items())))
    with open(args.out, "w") as f:
        json.dump({"torchvision": torchvision.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
