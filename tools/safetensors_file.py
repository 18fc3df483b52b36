"""Writes a .safetensors file (the format's spec: an 8-byte little-endian header length,
a JSON header padded with spaces to a multiple of 8, then the tensors' bytes in order)
without the safetensors package, which Debian does not ship. Shared by the fixture
scripts in tools/."""
import json
import struct

import numpy as np

DTYPE_NAMES = {np.float32: "F32", np.int32: "I32", np.uint8: "U8", np.int64: "I64"}


def save_safetensors(path, tensors, metadata):
    """tensors: name -> numpy array (float32, int32, int64 or uint8), written in that order;
    metadata: str -> str, the header's __metadata__."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        data = array.tobytes()
        header[name] = {"dtype": DTYPE_NAMES[array.dtype.type], "shape": list(array.shape),
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
