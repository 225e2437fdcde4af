"""Quantize the exported f32 models to int8 with calibration on real photos, in standard ONNX
ops only (no com.microsoft contrib ops, which tract refuses).

    .venv/bin/python models/train/quantize.py DATA DIR

For DIR/comic_generator.f32.onnx writes two int8 forms (the gate, nets.StatsGate, has no
convolution to quantize and ships as f32 only):
    DIR/NAME.int8.onnx      QOperator form: QLinearConv (weights int8 per channel,
                            activations uint8), Quantize/DequantizeLinear around them
    DIR/NAME.int8-qdq.onnx  QDQ form: QuantizeLinear/DequantizeLinear pairs around f32 Conv
Calibration: MinMax over crops of the training photos (DATA/photos/train), at the size each
model runs at (256x256 for the generator).
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image

SIDES = {"comic_generator": 256}


class Photos(CalibrationDataReader):
    """Centre, corner and zoomed crops of every training photo, as 1x3xSxS float32 in 0..1."""

    def __init__(self, data, side):
        self.items = []
        for path in sorted((Path(data) / "photos" / "train").glob("*.png")):
            im = Image.open(path).convert("RGB")
            w, h = im.size
            s = min(w, h)
            boxes = [((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s), (0, 0, s // 2, s // 2),
                     (w - s // 2, h - s // 2, w, h)]
            for box in boxes:
                a = np.asarray(im.crop(box).resize((side, side), Image.BILINEAR), dtype=np.float32) / 255
                self.items.append({"image": a.transpose(2, 0, 1)[None].copy()})
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.items)


def quantize(data, f32, out, fmt):
    side = SIDES[f32.name.split(".")[0]]
    quantize_static(
        str(f32),
        str(out),
        Photos(data, side),
        quant_format=fmt,
        op_types_to_quantize=["Conv"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    model = onnx.load(str(out))
    contrib = {n.op_type for n in model.graph.node if n.domain not in ("", "ai.onnx")}
    if contrib:
        sys.exit(f"quantize: {out} uses non-standard ops {sorted(contrib)}; tract cannot load them")
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{out.name}: {out.stat().st_size} bytes, ops {', '.join(ops)}")


if __name__ == "__main__":
    data, folder = Path(sys.argv[1]), Path(sys.argv[2])
    for name in SIDES:
        f32 = folder / f"{name}.f32.onnx"
        quantize(data, f32, folder / f"{name}.int8.onnx", QuantFormat.QOperator)
        quantize(data, f32, folder / f"{name}.int8-qdq.onnx", QuantFormat.QDQ)
