#!/usr/bin/env python3
"""Build comic_filter.onnx: a hand-weighted comic-style filter as an ONNX graph.

This is the stand-in generator until the trained GAN generator ships (issue 7). It is a real
ONNX model that tract runs op by op, made only of standard opset-17 ops that tract
optimises well (plain Conv, Pad, Sigmoid, Mul/Add, MaxPool, Clip, Sqrt;
borders are edge-padded so the frame of the picture is not inked):

  x (1x3xHxW, RGB in [0,1])
   |-- blur 5x5 (sigma 1.6) -> saturation boost (1x1 conv) -> soft posterise (1x1 conv,
   |   sigmoid staircase of LEVELS steps, 1x1 conv back)                     = flat colours
   '-- blur 5x5 (sigma 1.0) -> luma (1x1 conv) -> Sobel (3x3 conv, 2 outputs) -> magnitude
       -> thicken (3x3 max-pool) -> ink = clip(1 - GAIN*(mag - THRESHOLD), 0, 1) = ink lines
  y = flat colours * ink, clipped to [0,1]           (1x3xHxW, RGB in [0,1])

Every weight is set by hand below; nothing is trained, so no data was used. The output is
deterministic: same onnx version -> same bytes -> same sha256 (checked by CI).

Run from the repository root:  python3 models/make_comic_filter.py
With --check it writes nothing and fails unless the rebuilt bytes equal the committed file and
the sha256 in comic_filter.toml (the test suite runs this).
Needs: numpy, onnx (see models/requirements.txt).
"""
import hashlib
import pathlib
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
LEVELS = 5          # colour steps per channel
STEEPNESS = 10.0    # sigmoid slope of each step: higher = harder posterisation
SATURATION = 1.35   # 1.0 keeps colours, more makes them punchier
THRESHOLD = 0.45    # Sobel magnitude (luma units) where ink starts
GAIN = 4.0          # how fast ink goes from none to full black past the threshold
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def gaussian(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def per_channel(kernel: np.ndarray, channels: int = 3) -> np.ndarray:
    """A plain (not depthwise) conv weight that filters each channel on its own."""
    size = kernel.shape[0]
    w = np.zeros((channels, channels, size, size), dtype=np.float32)
    for c in range(channels):
        w[c, c] = kernel
    return w


def build() -> onnx.ModelProto:
    inits = []
    nodes = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def edge_pad(name: str, x: str, pad: int) -> str:
        """Repeat border pixels so the picture's edge does not read as an ink line."""
        if pad == 0:
            return x
        pads = np.array([0, 0, pad, pad, 0, 0, pad, pad], dtype=np.int64)
        inits.append(numpy_helper.from_array(pads, name + ".pads"))
        nodes.append(helper.make_node("Pad", [x, name + ".pads"], [name + ".padded"],
                                      name=name + ".pad", mode="edge"))
        return name + ".padded"

    def conv(name: str, x: str, w: np.ndarray, b: np.ndarray | None = None) -> str:
        inputs = [edge_pad(name, x, w.shape[-1] // 2), const(name + ".w", w)]
        if b is not None:
            inputs.append(const(name + ".b", b))
        nodes.append(helper.make_node("Conv", inputs, [name], name=name))
        return name

    def op(kind: str, name: str, *inputs: str, **attrs) -> str:
        nodes.append(helper.make_node(kind, list(inputs), [name], name=name, **attrs))
        return name

    # Flat colours.
    colour = conv("blur_colour", "image", per_channel(gaussian(5, 1.6)))
    sat = np.full((3, 3), 0.0, dtype=np.float32)
    for o in range(3):
        sat[o, :] = (1 - SATURATION) * LUMA
        sat[o, o] += SATURATION
    colour = conv("saturate", colour, sat.reshape(3, 3, 1, 1))
    colour = op("Clip", "saturate_clip", colour, const("zero", 0.0), const("one", 1.0))
    # Soft staircase: q(v) = 1/L * sum_k sigmoid(s * (L*v - k + 0.5)), k = 1..L-1, scaled so
    # q(0) ~ 0 and q(1) ~ 1.
    steps = LEVELS - 1
    up_w = np.zeros((3 * steps, 3, 1, 1), dtype=np.float32)
    up_b = np.zeros(3 * steps, dtype=np.float32)
    down_w = np.zeros((3, 3 * steps, 1, 1), dtype=np.float32)
    for c in range(3):
        for k in range(steps):
            i = c * steps + k
            up_w[i, c] = STEEPNESS * steps
            up_b[i] = -STEEPNESS * (k + 0.5)
            down_w[c, i] = 1.0 / steps
    colour = conv("steps", colour, up_w, up_b)
    colour = op("Sigmoid", "steps_sigmoid", colour)
    colour = conv("posterise", colour, down_w)

    # Ink lines.
    edges = conv("blur_edges", "image", per_channel(gaussian(5, 1.0)))
    luma = conv("luma", edges, LUMA.reshape(1, 3, 1, 1))
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    sobel = np.stack([sobel_x, sobel_x.T])[:, None]  # 2x1x3x3
    grad = conv("sobel", luma, sobel)
    sq = op("Mul", "grad_sq", grad, grad)
    mag = conv("grad_sum", sq, np.ones((1, 2, 1, 1), dtype=np.float32))
    mag = op("Sqrt", "grad_mag", op("Add", "grad_eps", mag, const("eps", 1e-6)))
    mag = op("MaxPool", "thicken", edge_pad("thicken", mag, 1), kernel_shape=[3, 3])
    ink = op("Mul", "ink_gain", op("Sub", "ink_over", mag, const("threshold", THRESHOLD)),
             const("gain", GAIN))
    ink = op("Clip", "ink", op("Sub", "ink_inv", const("one_ink", 1.0), ink),
             const("zero_ink", 0.0), const("one_ink_max", 1.0))

    out = op("Mul", "inked", colour, ink)
    op("Clip", "comic", out, const("zero_out", 0.0), const("one_out", 1.0))

    graph = helper.make_graph(
        nodes,
        "comic_filter",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("comic", TensorProto.FLOAT, [1, 3, "height", "width"])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="comicbooth/models/make_comic_filter.py",
        doc_string="Hand-weighted comic filter: RGB NCHW in [0,1] -> RGB NCHW in [0,1].",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    here = pathlib.Path(__file__).resolve().parent
    data = build().SerializeToString(deterministic=True)
    sha = hashlib.sha256(data).hexdigest()
    path = here / "comic_filter.onnx"
    if "--check" in sys.argv:
        manifest = (here / "comic_filter.toml").read_text()
        listed = re.search(r'^sha256 = "([0-9a-f]{64})"', manifest, re.M)
        problems = []
        if path.read_bytes() != data:
            problems.append(f"{path.name} differs from what this recipe builds (sha256 {sha})")
        if not listed or listed.group(1) != sha:
            problems.append(f"comic_filter.toml lists sha256 {listed and listed.group(1)}, recipe gives {sha}")
        for p in problems:
            print(f"error: {p}; fix: rerun python3 models/make_comic_filter.py and update the manifest")
        sys.exit(1 if problems else 0)
    path.write_bytes(data)
    print(f"{path.name}: {len(data)} bytes, sha256 {sha}")


if __name__ == "__main__":
    main()
