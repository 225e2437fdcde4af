"""The body of scripts/compare-ort (see there)."""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

SIDE = 256
ROOT = Path(__file__).resolve().parent.parent

# A model without a manifest of its own gets this one: third-party outputs are not in [0, 1].
MANIFEST = """name = "{name}"
file = "{file}"
sha256 = ""
role = "generator"
layout = "NCHW"
input_range = [0.0, 1.0]
output_range = [-1000.0, 1000.0]
size_multiple = 4
opset = 17
licence = "test model, random weights"
made_by = "scripts/third_party_models.py"
"""


def photo_tensor():
    """The bench's input: the first sample photo, centre square, 256x256, NCHW in [0, 1]."""
    img = Image.open(ROOT / "assets/photos/astronaut.jpg").convert("RGB")
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((SIDE, SIDE), Image.BILINEAR)
    return (np.asarray(img, np.float32) / 255.0).transpose(2, 0, 1)[None].copy()


def ort_median(path, threads, runs, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    s.run(None, {name: x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def comicbooth_median(binary, path, threads, runs):
    with tempfile.TemporaryDirectory() as d:
        config = Path(d) / "booth.toml"
        config.write_text(f"[model]\nsize = {SIDE}\nthreads = {threads}\ngate = false\n")
        out = subprocess.run([binary, "--config", str(config), "bench", "-n", str(runs), "--model", str(path)],
                             capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1][:200]
    m = re.search(r"runs \d+: min [\d.]+ ms, median ([\d.]+) ms", out.stdout)
    kernels = re.search(r"matmul kernels: (.*)", out.stdout)
    return float(m.group(1)), kernels.group(1) if kernels else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--binary", default=str(ROOT / "target/release/comicbooth"))
    ap.add_argument("--models", default=str(ROOT / "target/third-party"))
    a = ap.parse_args()
    runs = 1 if a.smoke else a.runs
    third = Path(a.models)
    subprocess.run([sys.executable, str(ROOT / "scripts/third_party_models.py"), str(third)], check=True,
                   capture_output=True)
    models = [ROOT / "models/comic_generator.f32.onnx", ROOT / "models/comic_generator.int8.onnx"]
    names = ["unet", "transformer", "animegan"]
    # AnimeGANv2 as PyTorch exports it, where Debian's PyTorch is installed.
    export = third / "animegan2.f32.onnx"
    if not export.exists():
        subprocess.run(["/usr/bin/python3", str(ROOT / "scripts/animegan2_export.py"), str(export)],
                       capture_output=True)
    if export.exists():
        if not (third / "animegan2.int8.onnx").exists():
            sys.path.insert(0, str(ROOT / "scripts"))
            import third_party_models
            third_party_models.quantize(export, third / "animegan2.int8.onnx")
        names.append("animegan2")
    else:
        print("(AnimeGANv2 as PyTorch exports it: skipped, no python3-torch; models/train/setup.sh installs it)")
    for name in names:
        for form in ["f32", "int8"]:
            p = third / f"{name}.{form}.onnx"
            manifest = p.with_suffix(".toml")
            if not manifest.exists():
                manifest.write_text(MANIFEST.format(name=p.stem, file=p.name))
            models.append(p)
    x = photo_tensor()
    print(f"onnxruntime {ort.__version__} (CPU provider, sequential) against {a.binary}, "
          f"1x3x{SIDE}x{SIDE}, median of {runs}")
    print("| model | threads | comicbooth (tract) | onnxruntime | ratio | tract kernels |")
    print("|---|---|---|---|---|---|")
    shipped_failed = []
    for p in models:
        for threads in [1, 2]:
            ours, kernels = comicbooth_median(a.binary, p, threads, runs)
            theirs = ort_median(p, threads, runs, x)
            if ours is None:
                if p.parent == ROOT / "models":
                    shipped_failed.append(p.name)
                print(f"| {p.stem} | {threads} | fails: {kernels} | {theirs:.1f} ms | - | |")
            else:
                print(f"| {p.stem} | {threads} | {ours:.1f} ms | {theirs:.1f} ms | {ours / theirs:.2f}x | {kernels} |")
            sys.stdout.flush()
    # The shipped generators must run; a third-party one that fails is a finding, not an error.
    if shipped_failed:
        print(f"error: comicbooth could not run {', '.join(shipped_failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
