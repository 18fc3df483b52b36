#!/usr/bin/python3
"""Makes the tests/fixtures/torch_*.pth files: what torch.save writes, for the
reader of engine/torch_file.h (tests/torch_file_test.cpp).

Run with Debian's CPU PyTorch (apt-get install python3-torch):
    /usr/bin/python3 tools/make_torch_fixtures.py [--out-dir tests/fixtures]

Every floating tensor holds the pattern the test recomputes in C++:
    value(k, i) = ((i % 97) - 48) / 64 + k / 8
for the k-th tensor of its file (in the order listed here) and element i in
row-major order; every value is exact in fp16, bf16 and fp32.
  torch_simplecnn.pth  torch.save(net.state_dict()) of the tutorial's SimpleCNN,
                       the file the tutorial itself writes (cnn_model.pth)
  torch_tensors.pth    a dict of one tensor per case: every dtype, a 0-d int64,
                       a transposed (strided) view, two views of one storage,
                       an empty tensor, an nn.Parameter
  torch_nested.pth     a training checkpoint {epoch, best_acc, model_state_dict,
                       optimizer_state_dict}, pickle protocol 4
  torch_module.pth     torch.save(module): a pickled nn.Linear, not a state_dict
  torch_legacy.pth     the pre-1.6 format (_use_new_zipfile_serialization=False)
"""
import argparse
import collections
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_tutorial import SimpleCNN  # noqa: E402  the tutorial's network, verbatim


def pattern(k, shape, dtype=torch.float32):
    n = 1
    for s in shape:
        n *= s
    values = ((torch.arange(n) % 97) - 48).double() / 64 + k / 8
    return values.reshape(shape).to(dtype)


def fill_state_dict(sd):
    with torch.no_grad():
        for k, t in enumerate(sd.values()):
            t.copy_(pattern(k, tuple(t.shape)))
    return sd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
    out = parser.parse_args().out_dir
    path = lambda name: os.path.join(out, name)  # noqa: E731

    torch.save(fill_state_dict(SimpleCNN().state_dict()), path("torch_simplecnn.pth"))

    base = pattern(8, (10,))
    tensors = {
        "f32": pattern(0, (2, 3)),
        "f16": pattern(1, (2, 3), torch.float16),
        "bf16": pattern(2, (2, 3), torch.bfloat16),
        "f64": pattern(3, (2, 3), torch.float64),
        "i64_scalar": torch.tensor(7, dtype=torch.int64),
        "i32": torch.tensor([-3, 0, 5], dtype=torch.int32),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "transposed": pattern(7, (3, 4)).t(),  # shape (4, 3), strides (1, 4)
        "view_a": base[2:5],                   # offset 2 into tensor 8's storage
        "view_b": base[5:].view(5, 1),         # offset 5, same storage
        "empty": torch.zeros(0, 3),
        "param": nn.Parameter(pattern(11, (2,))),
    }
    torch.save(tensors, path("torch_tensors.pth"))

    linear = nn.Linear(3, 2)
    fill_state_dict(linear.state_dict())
    optimizer = torch.optim.SGD(linear.parameters(), lr=0.1, momentum=0.9)
    linear(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    fill_state_dict(linear.state_dict())
    checkpoint = collections.OrderedDict(
        epoch=3, best_acc=61.5, model_state_dict=linear.state_dict(),
        optimizer_state_dict=optimizer.state_dict())
    torch.save(checkpoint, path("torch_nested.pth"), pickle_protocol=4)

    torch.save(linear, path("torch_module.pth"))
    torch.save(linear.state_dict(), path("torch_legacy.pth"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
