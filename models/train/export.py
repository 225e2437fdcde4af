"""Export the trained generator and gate from RUN's checkpoints to ONNX (opset 17, float32).

    python3 models/train/export.py RUN OUT_DIR [generator|gate]

Writes OUT_DIR/comic_generator.f32.onnx (1x3xHxW in 0..1 -> 1x3xHxW in 0..1, H and W free,
multiples of 4) and OUT_DIR/comic_gate.f32.onnx (1x3xHxW in 0..1 -> 1x1 logit, trained at
256x256, train.py --gate-side), each where RUN has its checkpoint (or the one named: the gate
is trained after the generator's comics are drawn, make_models.sh). quantize.py turns the generator into the int8
file the product ships beside it (the gate has nothing to quantize: nets.StatsGate).
"""

import sys
from pathlib import Path

import torch

from nets import Generator, load_gate, to_onnx

if __name__ == "__main__":
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    only = sys.argv[3] if len(sys.argv) > 3 else None
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if not (run / "generator.pt").exists() and not (run / "gate.pt").exists():
        sys.exit(f"export: {run} has neither generator.pt nor gate.pt; train first (train.py)")
    if (run / "generator.pt").exists() and only in (None, "generator"):
        g = Generator()
        g.load_state_dict(torch.load(run / "generator.pt")["g"])
        to_onnx(g, out / "comic_generator.f32.onnx")
        print(f"exported {out / 'comic_generator.f32.onnx'}")
    if (run / "gate.pt").exists() and only in (None, "gate"):
        state = torch.load(run / "gate.pt")
        side = state.get("side", 128)  # the side it was trained at (train.py --gate-side)
        to_onnx(load_gate(state), out / "comic_gate.f32.onnx", example_hw=(side, side))
        print(f"exported {out / 'comic_gate.f32.onnx'}")
