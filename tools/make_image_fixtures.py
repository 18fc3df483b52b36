#!/usr/bin/python3
"""Makes tests/fixtures/images/: small image files written by PIL in every PNG colour
type and bit depth `cnnengine predict` reads, binary PGM/PPM, and
tests/fixtures/images/expected.safetensors with what PIL makes of each:

  <name>.decoded   U8 (H, W, C) the pixels as PIL reads them (mode L, LA, RGB or RGBA;
                   a palette file as RGB, a 16-bit file as its high bytes)
  <name>.rgb32     U8 (3, 32, 32) Image.open(f).convert("RGB").resize((32, 32), BILINEAR)
  <name>.gray28    U8 (1, 28, 28) Image.open(f).convert("L").resize((28, 28), BILINEAR)

The last two are what torchvision's Resize((32, 32)) gives a PyTorch user's
picture; cnnengine replays PIL's 8-bit fixed-point resampling, and
tests/image_file_test.cpp wants the same bytes.

Run with Debian's python3-pil and python3-numpy:
    /usr/bin/python3 tools/make_image_fixtures.py [--out tests/fixtures/images]
"""
import argparse
import json
import os
import struct

import numpy as np
from PIL import Image


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.uint8).tobytes()
        header[name] = {"dtype": "U8", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/images")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(5)
    # 45 x 19: shrinks across and grows down to 32 x 32; odd sizes test the filter's edges.
    rgb = rng.integers(0, 256, size=(19, 45, 3), dtype=np.uint8)
    rgb[:, :8] = [250, 10, 10]  # flat areas too, not only noise
    alpha = rng.integers(0, 256, size=(19, 45), dtype=np.uint8)
    base = Image.fromarray(rgb, "RGB")
    files = {
        "rgb8.png": base,
        "rgba8.png": Image.fromarray(np.dstack([rgb, alpha]), "RGBA"),
        "gray8.png": base.convert("L"),
        "gray_alpha8.png": Image.fromarray(np.dstack([np.asarray(base.convert("L")), alpha]), "LA"),
        "gray1.png": base.convert("L").point(lambda v: 255 if v > 100 else 0).convert("1"),
        "palette8.png": base.quantize(colors=37),
        "palette4.png": base.quantize(colors=11),  # PIL writes 4-bit indices for 16 colours or fewer
        "rgb8.ppm": base,
        "gray8.pgm": base.convert("L"),
        "big.png": Image.fromarray(rng.integers(0, 256, size=(64, 96, 3), dtype=np.uint8)),
    }
    # 16 bits per sample: PIL writes mode I;16 as a 16-bit gray PNG.
    gray = np.asarray(base.convert("L")).astype(np.uint16)
    gray16 = gray * 256 + (gray ^ 0x5A)  # a high byte to keep, a low one to drop
    files["gray16.png"] = Image.fromarray(gray16, "I;16")
    expected = {}
    for name, image in files.items():
        path = os.path.join(args.out, name)
        if name.endswith(".png"):
            image.save(path, optimize=name == "rgb8.png")  # optimize: other filter choices
        else:
            image.save(path)
        back = Image.open(path)
        if back.mode == "P":
            decoded = np.asarray(back.convert("RGB"))
        elif back.mode in ("I;16", "I;16B", "I"):
            decoded = (np.asarray(back).astype(np.uint32) >> 8).astype(np.uint8)
        elif back.mode == "1":
            decoded = np.asarray(back.convert("L"))
        else:
            decoded = np.asarray(back)
        if decoded.ndim == 2:
            decoded = decoded[:, :, None]
        stem = name.replace(".", "_")
        expected[f"{stem}.decoded"] = decoded
        if back.mode in ("I;16", "I;16B", "I"):
            back = Image.fromarray(decoded[:, :, 0], "L")  # PIL's own 16-bit convert differs
        expected[f"{stem}.rgb32"] = np.asarray(
            back.convert("RGB").resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1)
        expected[f"{stem}.gray28"] = np.asarray(
            back.convert("L").resize((28, 28), Image.BILINEAR))[None]
        print(f"{name}: mode {Image.open(path).mode}, {decoded.shape}")
    save_safetensors(os.path.join(args.out, "expected.safetensors"), expected,
                     {"generator": "tools/make_image_fixtures.py", "pil_version": Image.__version__})


if __name__ == "__main__":
    main()
