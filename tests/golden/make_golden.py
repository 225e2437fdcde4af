#!/usr/bin/env python3
"""Make the golden tensors that tests/golden.rs checks tract against.

The reference runtime is onnxruntime (CPU provider). The input is a fixed synthetic picture
(gradients, a disc and stripes, so the filter has flat areas and edges) of 1x3x64x80: not
square, so a height/width mix-up fails the test. Files are raw little-endian f32, NCHW:

  comic_filter.input.f32    the input
  comic_filter.output.f32   onnxruntime's output of models/comic_filter.onnx

Run from the repository root:  python3 tests/golden/make_golden.py
With --check it writes nothing and fails unless the committed files are what onnxruntime gives
now (input bit for bit, output within 1e-6): the golden files stay tied to the model.
Needs: numpy, onnxruntime (see models/requirements.txt).
"""
import pathlib
import sys

import numpy as np
import onnxruntime as ort

H, W = 64, 80


def synthetic_input() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    r = x / (W - 1)
    g = y / (H - 1)
    b = 0.5 + 0.5 * np.sin(x / 5.0) * np.cos(y / 7.0)
    disc = ((x - 50) ** 2 + (y - 30) ** 2) < 15**2
    stripes = (x.astype(np.int32) // 6) % 2 == 0
    img = np.stack([r, g, b])
    img[:, disc] = np.array([0.9, 0.2, 0.1], dtype=np.float32)[:, None]
    img[:, (y < 10) & stripes] = 0.05
    return img[None].astype(np.float32)


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    here = pathlib.Path(__file__).resolve().parent
    x = synthetic_input()
    sess = ort.InferenceSession(str(root / "models" / "comic_filter.onnx"),
                                providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    assert y.shape == x.shape, y.shape
    if "--check" in sys.argv:
        old_x = np.fromfile(here / "comic_filter.input.f32", dtype="<f4").reshape(x.shape)
        old_y = np.fromfile(here / "comic_filter.output.f32", dtype="<f4").reshape(y.shape)
        if not np.array_equal(old_x, x) or np.abs(old_y - y).max() > 1e-6:
            sys.exit("error: golden files are stale; fix: rerun python3 tests/golden/make_golden.py")
        return
    x.astype("<f4").tofile(here / "comic_filter.input.f32")
    y.astype("<f4").tofile(here / "comic_filter.output.f32")
    print(f"onnxruntime {ort.__version__}: output mean {y.mean():.6f}, min {y.min():.6f}, "
          f"max {y.max():.6f}")


if __name__ == "__main__":
    main()
