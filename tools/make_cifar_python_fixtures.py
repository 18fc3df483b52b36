#!/usr/bin/python3
"""Makes tests/fixtures/cifar_python/: small files in the "Python version" of
CIFAR-10 and CIFAR-100 (what torchvision downloads), for tests/cifar_python_test.cpp.

  py2_data_batch     a batch dict as the original files are written: Python 2's
                     cPickle, protocol 2 (str keys and data as SHORT_BINSTRING /
                     BINSTRING, numpy's _reconstruct + BUILD), emitted here byte by
                     byte and checked by reading it back with pickle.load(encoding="bytes")
  py2_batches.meta   the meta dict (label_names), the same way: 158 bytes like the
                     real batches.meta
  py3_p2_data_batch, py3_p4_data_batch, py3_p5_data_batch
                     the same dict pickled by Python 3 and numpy at protocols 2, 4
                     and 5 (data as _codecs.encode, bytes, and numpy's _frombuffer)
  py3_p4_bytes_keys  protocol 4 with bytes keys (a dict loaded with encoding="bytes"
                     and saved again)
  py3_p4_cifar100    a CIFAR-100 train dict: fine_labels and coarse_labels

Every batch holds IMAGES images, pixel (i, j) = (i * 131 + j * 7) % 256, labels LABELS
(CIFAR-100: FINE_LABELS), as the C++ test expects.

Run with Debian's python3-numpy:
    /usr/bin/python3 tools/make_cifar_python_fixtures.py [--out tests/fixtures/cifar_python]
"""
import argparse
import os
import pickle
import struct

import numpy as np

IMAGES = 3
LABELS = [3, 8, 0]
FINE_LABELS = [19, 99, 0]
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def pixels():
    i = np.arange(IMAGES)[:, None]
    j = np.arange(3072)[None, :]
    return ((i * 131 + j * 7) % 256).astype(np.uint8)


class Py2Pickler:
    """The opcodes Python 2's cPickle.dump(obj, f, 2) writes for str, int, list,
    dict and a 2-D uint8 numpy array, with its memo puts."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self):
        self.memo += 1
        self.out += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)

    def string(self, s):
        data = s if isinstance(s, bytes) else s.encode("latin1")
        if len(data) < 256:
            self.out += b"U" + bytes([len(data)]) + data
        else:
            self.out += b"T" + struct.pack("<I", len(data)) + data
        self.put()

    def integer(self, v):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        else:
            self.out += b"J" + struct.pack("<i", v)

    def global_(self, module, name):
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        self.put()

    def array(self, a):
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.integer(0)
        self.out += b"\x85"  # TUPLE1
        self.put()
        self.string("b")
        self.out += b"\x87R"  # TUPLE3, REDUCE
        self.put()
        self.out += b"("
        self.integer(1)
        for d in a.shape:
            self.integer(d)
        self.out += b"\x86"  # TUPLE2: the shape
        self.put()
        self.global_("numpy", "dtype")
        self.string("u1")
        self.integer(0)
        self.integer(1)
        self.out += b"\x87R"
        self.put()
        self.out += b"("
        self.integer(3)
        self.string("|")
        self.out += b"NNN"
        self.out += b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1)
        self.integer(0)
        self.out += b"t"
        self.put()
        self.out += b"b\x89"  # BUILD the dtype; is_fortran False
        self.string(a.tobytes())
        self.out += b"t"
        self.put()
        self.out += b"b"  # BUILD the array

    def value(self, v):
        if isinstance(v, np.ndarray):
            self.array(v)
        elif isinstance(v, (str, bytes)):
            self.string(v)
        elif isinstance(v, int):
            self.integer(v)
        elif isinstance(v, list):
            self.out += b"]"
            self.put()
            self.out += b"("
            for item in v:
                self.value(item)
            self.out += b"e"
        elif isinstance(v, dict):
            self.out += b"}"
            self.put()
            self.out += b"("
            for k, item in v.items():
                self.value(k)
                self.value(item)
            self.out += b"u"
        else:
            raise TypeError(type(v))

    def dumps(self, v):
        self.value(v)
        return bytes(self.out + b".")


def batch_dict():
    return {"data": pixels(), "labels": list(LABELS), "batch_label": "training batch 1 of 5",
            "filenames": [f"image_{i:06d}.png" for i in range(IMAGES)]}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/fixtures/cifar_python")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    py2 = Py2Pickler().dumps(batch_dict())
    back = pickle.loads(py2, encoding="bytes")
    assert np.array_equal(back[b"data"], pixels()) and back[b"labels"] == LABELS
    write(os.path.join(args.out, "py2_data_batch"), py2)

    meta = Py2Pickler().dumps({"num_cases_per_batch": 10000, "label_names": NAMES,
                               "num_vis": 3072})
    assert len(meta) == 158, len(meta)  # the real batches.meta's size
    assert [n.decode() for n in pickle.loads(meta, encoding="bytes")[b"label_names"]] == NAMES
    write(os.path.join(args.out, "py2_batches.meta"), meta)

    for protocol in (2, 4, 5):
        write(os.path.join(args.out, f"py3_p{protocol}_data_batch"),
              pickle.dumps(batch_dict(), protocol=protocol))
    bytes_keys = {k.encode(): v for k, v in batch_dict().items()}
    write(os.path.join(args.out, "py3_p4_bytes_keys"), pickle.dumps(bytes_keys, protocol=4))
    cifar100 = {"data": pixels(), "fine_labels": list(FINE_LABELS),
                "coarse_labels": [f // 5 for f in FINE_LABELS], "batch_label": "training batch 1 of 1",
                "filenames": [f"image_{i:06d}.png" for i in range(IMAGES)]}
    write(os.path.join(args.out, "py3_p4_cifar100"), pickle.dumps(cifar100, protocol=4))
    print("wrote", sorted(os.listdir(args.out)))


if __name__ == "__main__":
    main()
