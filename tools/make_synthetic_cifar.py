#!/usr/bin/env python3
"""Writes a synthetic CIFAR-10 folder (random pixels, labels r % 10) in the real
binary format: data_batch_1..5.bin and test_batch.bin of RECORDS records each.

    tools/make_synthetic_cifar.py DEST [RECORDS=80] [SEED=1]

For scripts that need data files of the right shape without the real data set
(tools/kill_loop.sh, tools/device_check.sh).
"""
import os
import random
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    dest = sys.argv[1]
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    os.makedirs(dest, exist_ok=True)
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        with open(os.path.join(dest, name + ".bin"), "wb") as f:
            for r in range(records):
                f.write(bytes([r % 10]) + bytes(rng.randrange(256) for _ in range(3072)))


if __name__ == "__main__":
    main()
