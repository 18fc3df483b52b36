#!/usr/bin/env python3
"""Checks a `cnnengine export` model with ONNX's checker and ONNX Runtime against cnnengine.

    python3 tools/check_onnx_export.py MODEL.onnx PREDICTIONS.csv CIFAR_DIR [--normalized-inside]

MODEL.onnx comes from `cnnengine export --checkpoint W`, PREDICTIONS.csv from
`cnnengine eval --checkpoint W --predictions PREDICTIONS.csv` on the same weights, and
CIFAR_DIR is the folder with test_batch.bin. The script runs onnx.checker (with shape
inference), feeds the test images to ONNX Runtime as ToTensor + Normalize(0.5, 0.5)
would (with --normalized-inside: ToTensor only, for a model exported
--with-normalize), and compares its softmax probabilities and predictions with
cnnengine's. Needs the onnx and onnxruntime packages (pip install onnx onnxruntime).
Exit status 0 when every probability agrees within 1e-5 (the CSV's 6 decimals) and
every prediction agrees, else 1.
"""
import argparse
import csv
import os
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("predictions")
    parser.add_argument("cifar_dir")
    parser.add_argument("--normalized-inside", action="store_true")
    parser.add_argument("--mean", type=float, nargs=3, default=[0.5, 0.5, 0.5])
    parser.add_argument("--std", type=float, nargs=3, default=[0.5, 0.5, 0.5])
    args = parser.parse_args()
    import onnx
    import onnxruntime as ort

    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    print(f"onnx.checker: {args.model} is valid (opset {model.opset_import[0].version}, "
          f"{len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers)")

    with open(args.predictions) as f:
        rows = list(csv.DictReader(f))
    classes = [k[2:] for k in rows[0] if k.startswith("p_")]
    want = np.array([[float(r["p_" + c]) for c in classes] for r in rows], dtype=np.float64)
    raw = np.fromfile(os.path.join(args.cifar_dir, "test_batch.bin"), dtype=np.uint8)
    records = raw.reshape(-1, 1 + 3 * 32 * 32)[: len(rows)]
    labels = records[:, 0].astype(np.int64)
    x = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255)
    if not args.normalized_inside:
        mean = np.array(args.mean, dtype=np.float32).reshape(1, 3, 1, 1)
        std = np.array(args.std, dtype=np.float32).reshape(1, 3, 1, 1)
        x = (x - mean) / std

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    logits = np.concatenate([session.run(["logits"], {"input": x[i:i + 500]})[0]
                             for i in range(0, len(x), 500)]).astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    worst = float(np.abs(p - want).max())
    index = {c: i for i, c in enumerate(classes)}
    cnne_pred = np.array([index[r["predicted"]] for r in rows])
    ort_pred = logits.argmax(axis=1)
    agree = int((cnne_pred == ort_pred).sum())
    accuracy = 100.0 * float((ort_pred == labels).mean())
    print(f"ONNX Runtime {ort.__version__}: {len(rows)} images, accuracy {accuracy:.2f}%, "
          f"predictions equal to cnnengine's for {agree}/{len(rows)}, "
          f"largest probability difference {worst:.2e}")
    ok = agree == len(rows) and worst <= 1e-5
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
