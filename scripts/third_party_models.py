#!/usr/bin/env python3
"""Third-party comic/style generator architectures as ONNX files, for `scripts/compare-ort`.

Three families a kiosk owner may bring instead of our generator, built layer by layer with
onnx.helper (no PyTorch needed) with seeded random weights at 1x3x256x256, each in f32 and
in int8 QDQ form (onnxruntime's static quantizer, calibrated on seeded noise):

- unet: a white-box-cartoon style UNet (3x3 convs, LeakyRelu, stride-2 downsampling,
  bilinear Resize up, skip additions);
- transformer: fast-neural-style's TransformerNet (reflect Pad, 9x9 and 3x3 convs,
  InstanceNormalization, five residual blocks, nearest Resize up);
- animegan: an AnimeGANv2-style generator (reflect Pad, depthwise 3x3 convs in inverted
  residual blocks, InstanceNormalization, LeakyRelu, bilinear Resize up).

The weights are random: these files measure speed and loading, not pictures.

    scripts/third_party_models.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIDE = 256


class Graph:
    def __init__(self, name, seed):
        self.name, self.nodes, self.inits, self.n = name, [], [], 0
        self.rng = np.random.default_rng(seed)

    def uid(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, array, base="c"):
        name = self.uid(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind, inputs, **attrs):
        out = self.uid(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=None, group=1):
        w = self.rng.normal(0, (2.0 / (cin // group * k * k)) ** 0.5, (cout, cin // group, k, k)).astype(np.float32)
        b = np.zeros(cout, np.float32)
        p = k // 2 if pad is None else pad
        return self.op("Conv", [x, self.const(w, "w"), self.const(b, "b")], kernel_shape=[k, k],
                       strides=[stride, stride], pads=[p] * 4, group=group)

    def reflect(self, x, p):
        pads = self.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")
        return self.op("Pad", [x, pads], mode="reflect")

    def inorm(self, x, c):
        return self.op("InstanceNormalization", [x, self.const(np.ones(c, np.float32), "g"),
                                                 self.const(np.zeros(c, np.float32), "beta")], epsilon=1e-5)

    def lrelu(self, x):
        return self.op("LeakyRelu", [x], alpha=0.2)

    def up(self, x, mode):
        scales = self.const(np.array([1, 1, 2, 2], np.float32), "scales")
        attrs = {"mode": mode}
        if mode == "linear":
            attrs["coordinate_transformation_mode"] = "half_pixel"
        return self.op("Resize", [x, "", scales], **attrs)

    def model(self, out):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIDE, SIDE])
        outp = helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 3, SIDE, SIDE])
        g = helper.make_graph(self.nodes, self.name, [inp], [outp], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="comicbooth")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def unet():
    g = Graph("unet", 1)
    x = g.lrelu(g.conv("input", 3, 32, 7))
    e1 = g.lrelu(g.conv(x, 32, 32, 3))
    d1 = g.lrelu(g.conv(g.lrelu(g.conv(e1, 32, 64, 3, 2)), 64, 64, 3))
    d2 = g.lrelu(g.conv(g.lrelu(g.conv(d1, 64, 128, 3, 2)), 128, 128, 3))
    r = d2
    for _ in range(4):
        r = g.op("Add", [r, g.conv(g.lrelu(g.conv(r, 128, 128, 3)), 128, 128, 3)])
    u1 = g.lrelu(g.conv(g.up(r, "linear"), 128, 64, 3))
    u1 = g.op("Add", [u1, d1])
    u2 = g.lrelu(g.conv(g.up(u1, "linear"), 64, 32, 3))
    u2 = g.op("Add", [u2, e1])
    return g.model(g.op("Tanh", [g.conv(u2, 32, 3, 7)]))


def transformer():
    g = Graph("transformer", 2)

    def block(x, cin, cout, k, stride=1):
        return g.inorm(g.conv(g.reflect(x, k // 2), cin, cout, k, stride, pad=0), cout)

    x = g.op("Relu", [block("input", 3, 32, 9)])
    x = g.op("Relu", [block(x, 32, 64, 3, 2)])
    x = g.op("Relu", [block(x, 64, 128, 3, 2)])
    for _ in range(5):
        x = g.op("Add", [x, block(g.op("Relu", [block(x, 128, 128, 3)]), 128, 128, 3)])
    x = g.op("Relu", [block(g.up(x, "nearest"), 128, 64, 3)])
    x = g.op("Relu", [block(g.up(x, "nearest"), 64, 32, 3)])
    return g.model(g.conv(g.reflect(x, 4), 32, 3, 9, pad=0))


def animegan():
    g = Graph("animegan", 3)

    def cbl(x, cin, cout, k=3, stride=1, group=1):
        p = k // 2
        y = g.conv(g.reflect(x, p) if p else x, cin, cout, k, stride, pad=0, group=group)
        return g.lrelu(g.inorm(y, cout))

    def inverted(x, c, expand=2):
        h = cbl(x, c, c * expand, 1)
        h = cbl(h, c * expand, c * expand, 3, group=c * expand)
        h = g.inorm(g.conv(h, c * expand, c, 1, pad=0), c)
        return g.op("Add", [x, h])

    x = cbl("input", 3, 32, 7)
    x = cbl(cbl(x, 32, 64, 3, 2), 64, 64)
    x = cbl(cbl(x, 64, 128, 3, 2), 128, 128)
    x = cbl(x, 128, 128)
    for _ in range(8):
        x = inverted(x, 128)
    x = cbl(x, 128, 128)
    x = cbl(cbl(g.up(x, "linear"), 128, 64), 64, 64)
    x = cbl(cbl(g.up(x, "linear"), 64, 32), 32, 32, 7)
    return g.model(g.op("Tanh", [g.conv(x, 32, 3, 1, pad=0)]))


def quantize(src, dst):
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice, not failures
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Noise(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(7)
            self.batches = iter([{"input": rng.random((1, 3, SIDE, SIDE), np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(src), str(dst), Noise(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/third-party")
    out.mkdir(parents=True, exist_ok=True)
    for name, build in [("unet", unet), ("transformer", transformer), ("animegan", animegan)]:
        f32, int8 = out / f"{name}.f32.onnx", out / f"{name}.int8.onnx"
        if not f32.exists():
            onnx.save(build(), f32)
        if not int8.exists():
            quantize(f32, int8)
        print(f32, int8)


if __name__ == "__main__":
    main()
