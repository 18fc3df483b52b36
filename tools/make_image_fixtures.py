#!/usr/bin/python3
"""Makes tests/fixtures/images/: small image files written by PIL in every PNG colour
type and bit depth `cnnengine predict` reads, Adam7-interlaced PNGs (written here, read
back by PIL), binary PGM/PPM, and
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
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_file import save_safetensors  # noqa: E402

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def filter_row(kind, row, up, bpp):
    """PNG filter `kind` (0-4) of one row of bytes, given the unfiltered row above."""
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out[i] = (x - pred) & 0xFF
    return bytes([kind]) + bytes(out)


def write_interlaced_png(path, samples, color_type, bit_depth, palette=None):
    """An Adam7-interlaced PNG (PIL writes none) of `samples` (H, W, S) values, every
    filter type in turn; PIL's reader then says what it holds."""
    height, width, per_pixel = samples.shape
    bits = per_pixel * bit_depth
    bpp = max(1, bits // 8)
    raw, turn = b"", 0
    for x0, y0, dx, dy in ADAM7:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        up = bytes((sub.shape[1] * bits + 7) // 8)
        for row in sub:
            flat = row.reshape(-1)
            if bit_depth == 8:
                data = bytes(int(v) for v in flat)
            else:  # pack, the leftmost sample in the high bits
                packed = bytearray((len(flat) * bit_depth + 7) // 8)
                for k, v in enumerate(flat):
                    packed[k * bit_depth // 8] |= int(v) << (8 - bit_depth - k * bit_depth % 8)
                data = bytes(packed)
            raw += filter_row(turn % 5, data, up, bpp)
            turn += 1
            up = data
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1))
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(palette))
    out += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


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
    # Adam7-interlaced files, written here: 8-bit RGB over every pass, 2-bit gray (bits packed
    # per pass), 4-bit palette, and a 3 x 2 image whose later passes are empty.
    interlaced = {
        "rgb8_interlaced.png": (rgb, 2, 8, None),
        "gray2_interlaced.png": (np.asarray(base.convert("L"))[:, :, None] >> 6, 0, 2, None),
        "palette4_interlaced.png": (np.asarray(files["palette4.png"])[:, :, None], 3, 4,
                                    files["palette4.png"].getpalette()[:33]),
        "tiny_interlaced.png": (rgb[:2, 10:13], 2, 8, None),
    }
    for name, (samples, color_type, depth, palette) in interlaced.items():
        write_interlaced_png(os.path.join(args.out, name), samples, color_type, depth, palette)
        files[name] = None  # read back below
    expected = {}
    for name, image in files.items():
        path = os.path.join(args.out, name)
        if image is None:
            pass
        elif name.endswith(".png"):
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
