#!/usr/bin/env python3
"""Make the golden tensors that tests/golden.rs checks tract against.

The reference runtime is onnxruntime (CPU provider). The input is a fixed synthetic picture
(gradients, a disc and stripes, so the filter has flat areas and edges) of 1x3x64x80: not
square, so a height/width mix-up fails the test; the gate gets the same picture at its
native 256x256 (its manifest's native_size). Files are raw little-endian f32, NCHW:

  NAME.input.f32    the input
  NAME.output.f32   onnxruntime's output of models/NAME.onnx

for NAME in comic_filter (the hand-weighted fixture, in tests/fixtures/), comic_generator.f32,
comic_generator.int8 and comic_gate.f32 (the gate ships as f32 only); and
comic_gate.f32.photo: the gate on a real photo (assets/photos/coffee.jpg, its centre square
resized to 256x256 and rounded to 8 bits, as a camera frame would be), whose reference logit
says "photo" where the synthetic picture's says "comic".

Run from the repository root:  python3 tests/golden/make_golden.py
With --check it writes nothing and fails unless the committed files are what onnxruntime gives
now (input bit for bit, output within 1e-6): the golden files stay tied to the model.
Needs: numpy, onnxruntime (see models/requirements.txt).
"""
import pathlib
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

H, W = 64, 80
MODELS = {
    "comic_filter": (64, 80),
    "comic_generator.f32": (64, 80),
    "comic_generator.int8": (64, 80),
    "comic_gate.f32": (256, 256),
}


def synthetic_input(H=H, W=W) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    r = x / (W - 1)
    g = y / (H - 1)
    b = 0.5 + 0.5 * np.sin(x / 5.0) * np.cos(y / 7.0)
    disc = ((x - 50 * W / 80) ** 2 + (y - 30 * H / 64) ** 2) < (15 * H / 64) ** 2
    stripes = (x.astype(np.int32) // 6) % 2 == 0
    img = np.stack([r, g, b])
    img[:, disc] = np.array([0.9, 0.2, 0.1], dtype=np.float32)[:, None]
    img[:, (y < 10) & stripes] = 0.05
    return img[None].astype(np.float32)


def photo_input(root: pathlib.Path, side: int) -> np.ndarray:
    im = Image.open(root / "assets/photos/coffee.jpg").convert("RGB")
    s = min(im.size)
    box = ((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2)
    px = np.asarray(im.crop(box).resize((side, side), Image.BILINEAR), dtype=np.float32)
    return (px / 255).transpose(2, 0, 1)[None].copy()


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    here = pathlib.Path(__file__).resolve().parent
    stale = []
    cases = [(name, name, synthetic_input(h, w)) for name, (h, w) in MODELS.items()]
    cases.append(("comic_gate.f32.photo", "comic_gate.f32", photo_input(root, 256)))
    for name, model, x in cases:
        folder = root / ("tests/fixtures" if model == "comic_filter" else "models")
        sess = ort.InferenceSession(str(folder / f"{model}.onnx"), providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
        if "--check" in sys.argv:
            old_x = np.fromfile(here / f"{name}.input.f32", dtype="<f4").reshape(x.shape)
            old_y = np.fromfile(here / f"{name}.output.f32", dtype="<f4").reshape(y.shape)
            if not np.array_equal(old_x, x) or np.abs(old_y - y).max() > 1e-6:
                stale.append(name)
            continue
        x.astype("<f4").tofile(here / f"{name}.input.f32")
        y.astype("<f4").tofile(here / f"{name}.output.f32")
        print(f"{name}: onnxruntime {ort.__version__}: output {y.shape} mean {y.mean():.6f}, "
              f"min {y.min():.6f}, max {y.max():.6f}")
    if stale:
        sys.exit(f"error: golden files are stale for {', '.join(stale)}; fix: rerun python3 tests/golden/make_golden.py")


if __name__ == "__main__":
    main()
