"""Export random-weight generator candidates to ONNX so tract can time them before training.

    python3 models/train/candidates.py OUT_DIR
    for f in OUT_DIR/*.onnx; do comicbooth bench --model $f -n 10; done

Weights do not change a convolution's speed, so untrained candidates time the architecture.
"""

import sys
from pathlib import Path

import torch

from nets import Generator, macs, params, to_onnx

CANDIDATES = {
    # name: Generator arguments
    "g24-48x2-nearest": dict(c1=24, c2=48, blocks=2, c_out=16, upsample="nearest"),
    "g24-48x2-transpose": dict(c1=24, c2=48, blocks=2, c_out=16, upsample="transpose"),
    "g16-32x3-nearest": dict(c1=16, c2=32, blocks=3, c_out=16, upsample="nearest"),
    "g32-64x2-nearest": dict(c1=32, c2=64, blocks=2, c_out=16, upsample="nearest"),
}

if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, args in CANDIDATES.items():
        g = Generator(**args)
        to_onnx(g, out / f"{name}.onnx")
        print(f"{name}: {params(g)} parameters, {macs(g) / 1e6:.0f} MMAC at 256x256")
