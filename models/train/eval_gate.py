"""The gate on pictures no recipe step has seen, judged by comicbooth itself.

    python3 models/train/eval_gate.py DATA GATE.onnx [--comicbooth BIN] [--eval-dir DIR] [--out JSON]
                                      [--model GENERATOR.onnx]

A look comic stylized again must pass the "already comic?" gate untouched, and a photo must
not. This measures both exactly as `comicbooth stylize` decides (BIN, default
target/release/comicbooth: the whole picture fitted into model.size, squashed to the gate's
128x128, the probability it logs), at the thresholds model.gate_threshold may take, on:

- the reserved photos (gather.py never takes them): every photograph of opencv-doc's
  examples/data named below, mate-backgrounds' nature wallpapers, plasma-workspace-wallpapers'
  photographs (ColorfulCups and the 10 in PLASMA_PHOTOS), scikit-learn's china.jpg and
  flower.jpg and SciPy's face and ascent, as they are and saved as JPEG at quality 50. The
  packages are fetched with `apt-get download` into DIR/debs (default target/heldout-eval/)
  and unpacked there with `dpkg-deb -x` (nothing is installed); python3-sklearn and
  python3-scipy are read where setup.sh installed them. Plasma's three illustrations (Autumn,
  FlyingKonqui, PastelHills) are scored apart: they are paintings, not photos;
- their look comics (stylized with the gate off into DIR/comics/ and DIR/comics-paintings/,
  as look_comics.py does);
- DATA's held-out photos (gather's 512 px copies of photos/ and gate-photos/) and their look
  comics (DATA/look-comics/heldout/).

--model draws the look comics with that generator instead of the one built into BIN (make
DATA/look-comics/ with the same one: look_comics.py --model). Writes JSON (default
DATA/../run/gate-eval.json): every picture's comic probability and, per
set and threshold, how many pass. report.py puts them in the report.
"""

import argparse
import bz2
import hashlib
import json
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
OPENCV = "usr/share/doc/opencv-doc/examples/data"
MATE = "usr/share/backgrounds/mate/nature"
PLASMA = "usr/share/wallpapers/{}/contents/images/1920x1080.jpg"
SKLEARN = Path("/usr/lib/python3/dist-packages/sklearn/datasets/images")
SCIPY = Path("/usr/lib/python3/dist-packages/scipy/misc")
PLASMA_PHOTOS = ["BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
                 "OneStandsOut", "Path", "summer_1am"]
PLASMA_PAINTINGS = ["Autumn", "FlyingKonqui", "PastelHills"]
# (name, package, where: a path in the unpacked packages or an installed file), photographs
RESERVED = (
    [(f"opencv-{n}", "opencv-doc", f"{OPENCV}/{n}.jpg")
     for n in ("messi5", "baboon", "fruits", "butterfly", "home", "squirrel_cls")]
    + [(f"mate-{n}", "mate-backgrounds", f"{MATE}/{n}.jpg")
       for n in ("LadyBird", "GreenMeadow", "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "RainDrops",
                 "Storm", "TwoWings", "Wood", "YellowFlower")]
    + [(f"plasma-{n}", "plasma-workspace-wallpapers", PLASMA.format(n)) for n in PLASMA_PHOTOS]
    + [("plasma-ColorfulCups", "plasma-workspace-wallpapers",
        "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg")]
    + [("sklearn-china", "python3-sklearn", SKLEARN / "china.jpg"),
       ("sklearn-flower", "python3-sklearn", SKLEARN / "flower.jpg"),
       ("scipy-face", "python3-scipy", SCIPY / "face.dat"),
       ("scipy-ascent", "python3-scipy", SCIPY / "ascent.dat")]
)
PAINTINGS = [(f"plasma-{n}", "plasma-workspace-wallpapers", PLASMA.format(n).replace(".jpg", ext))
             for n, ext in zip(PLASMA_PAINTINGS, (".jpg", ".png", ".jpg"))]
# The pictures named when the look came (a smaller set the figures are also given for).
NAMED = {"opencv-messi5", "opencv-baboon", "opencv-fruits", "opencv-butterfly", "opencv-home",
         "opencv-squirrel_cls", "mate-LadyBird", "mate-GreenMeadow", "plasma-Autumn", "sklearn-china",
         "sklearn-flower"}
DEBS = ("opencv-doc", "mate-backgrounds", "plasma-workspace-wallpapers")


def unpack(eval_dir):
    """The three packages' files under eval_dir/root (fetched and unpacked once)."""
    root, debs = eval_dir / "root", eval_dir / "debs"
    if all((root / p).exists() for _, _, p in RESERVED + PAINTINGS if not Path(p).is_absolute()):
        return root
    debs.mkdir(parents=True, exist_ok=True)
    for name in DEBS:
        if not list(debs.glob(f"{name}_*.deb")):
            subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
        subprocess.run(["dpkg-deb", "-x", str(next(debs.glob(f"{name}_*.deb"))), str(root)], check=True)
    return root


def open_picture(path):
    """An RGB picture; SciPy keeps face and ascent as compressed raw arrays."""
    if path.name == "face.dat":  # what scipy.misc.face() reads: bz2 of 768x1024x3 uint8
        return Image.fromarray(np.frombuffer(bz2.decompress(path.read_bytes()), np.uint8).reshape(768, 1024, 3))
    if path.name == "ascent.dat":  # what scipy.misc.ascent() reads: a pickled 512x512 array
        with open(path, "rb") as f:
            return Image.fromarray(np.array(pickle.load(f)).astype(np.uint8)).convert("RGB")
    return Image.open(path).convert("RGB")


def stylize(bin_, config, src, dest, gate=None):
    """Runs `comicbooth stylize` on the folder src; returns {file stem: the gate's probability}
    (with a gate) from its log lines, which come in the order of the files it wrote."""
    cmd = [str(bin_), "stylize", "--config", str(config)] + (["--gate", str(gate)] if gate else []) + [str(src), str(dest)]
    env = {"RUST_LOG": "info", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not re.search(r"^\d+ written, 0 failed$", done.stdout, re.M):
        sys.exit(f"eval_gate: {' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    written = [Path(line.split(" -> ")[0]).stem for line in done.stdout.splitlines() if " -> " in line]
    probs = [float(p) for p in re.findall(r"probability=([-+0-9.eE]+)", re.sub(r"\x1b\[[0-9;]*m", "", done.stderr))]
    if gate and len(probs) != len(written):
        sys.exit(f"eval_gate: {len(written)} pictures but {len(probs)} gate lines:\n{done.stderr}")
    return dict(zip(written, probs))


def with_manifest(gate, folder, side):
    """The gate with a manifest beside it (comicbooth needs one to use a file as the gate):
    its own when it has one, else a copy with the fields comicbooth checks, native_size `side`."""
    if gate.with_suffix(".toml").exists():
        return gate
    copy = folder / "comic_gate.f32.onnx"
    shutil.copyfile(gate, copy)
    copy.with_suffix(".toml").write_text(
        f'name = "comic-gate-eval"\nfile = "{copy.name}"\n'
        f'sha256 = "{hashlib.sha256(copy.read_bytes()).hexdigest()}"\nrole = "gate"\nlayout = "NCHW"\n'
        "input_range = [0.0, 1.0]\noutput_range = [-inf, inf]\nsize_multiple = 16\n"
        f"native_size = {side}\n")
    return copy


def summary(probs, names=None):
    names = sorted(probs) if names is None else [n for n in sorted(probs) if n in names]
    return dict(pictures=len(names),
                passed={str(t): sum(1 for n in names if probs[n] >= t) for t in THRESHOLDS})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("gate", type=Path)
    ap.add_argument("--comicbooth", type=Path, default=REPO / "target/release/comicbooth")
    ap.add_argument("--eval-dir", type=Path, default=REPO / "target/heldout-eval")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--model", type=Path, help="generator ONNX file for the look comics (default: BIN's own)")
    ap.add_argument("--side", type=int, default=256,
                    help="native_size of a gate without a manifest beside it (train.py --gate-side)")
    args = ap.parse_args()
    out = args.out or args.data.parent / "run" / "gate-eval.json"
    root = unpack(args.eval_dir)

    photos, paintings = args.eval_dir / "photos", args.eval_dir / "paintings"
    jpegs = args.eval_dir / "photos-jpeg50"
    for folder, entries in ((photos, RESERVED), (paintings, PAINTINGS)):
        folder.mkdir(parents=True, exist_ok=True)
        for name, _, where in entries:
            dest = folder / f"{name}.png"
            if not dest.exists():
                open_picture(Path(where) if Path(where).is_absolute() else root / where).save(dest)
    # The same photos saved as JPEG at quality 50 (a heavily compressed file is still a photo).
    jpegs.mkdir(exist_ok=True)
    for name, _, _ in RESERVED:
        if not (jpegs / f"{name}.jpg").exists():
            Image.open(photos / f"{name}.png").save(jpegs / f"{name}.jpg", quality=50)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        off, on = tmp / "gate-off.toml", tmp / "gate-on.toml"
        path = f'path = "{args.model.resolve()}"\n' if args.model else ""
        off.write_text(f"[model]\n{path}gate = false\nthreads = 1\n")
        on.write_text("[model]\ngate = true\ngate_threshold = 0.5\nthreads = 1\n")
        comics, painted = args.eval_dir / "comics", args.eval_dir / "comics-paintings"
        for folder, src in ((comics, photos), (painted, paintings)):  # their look comics
            shutil.rmtree(folder, ignore_errors=True)
            stylize(args.comicbooth, off, src, folder)
        gate = with_manifest(args.gate.resolve(), tmp, args.side)
        heldout_photos = tmp / "heldout-photos"  # the generator's and the gate-only ones
        heldout_photos.mkdir()
        for folder in ("photos", "gate-photos"):
            for path in (args.data / folder / "heldout").glob("*.png"):
                shutil.copyfile(path, heldout_photos / path.name)
        probs = {
            "reserved_look_comics": stylize(args.comicbooth, on, comics, tmp / "a", gate),
            "reserved_photos": stylize(args.comicbooth, on, photos, tmp / "b", gate),
            "reserved_photos_jpeg50": stylize(args.comicbooth, on, jpegs, tmp / "f", gate),
            "reserved_paintings": stylize(args.comicbooth, on, paintings, tmp / "c", gate),
            "reserved_painting_look_comics": stylize(args.comicbooth, on, painted, tmp / "g", gate),
            "heldout_look_comics": stylize(args.comicbooth, on, args.data / "look-comics" / "heldout", tmp / "d", gate),
            "heldout_photos": stylize(args.comicbooth, on, heldout_photos, tmp / "e", gate),
        }
    result = dict(
        thresholds=list(THRESHOLDS),
        sets={k: summary(v) for k, v in probs.items()},
        named={k: summary(probs[k], NAMED) for k in ("reserved_look_comics", "reserved_photos", "reserved_paintings",
                                                     "reserved_painting_look_comics", "reserved_photos_jpeg50")},
        packages={name: package for name, package, _ in RESERVED + PAINTINGS},
        probabilities={k: {n: round(p, 6) for n, p in sorted(v.items())} for k, v in probs.items()},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("set | pictures | " + " | ".join(f"passed at {t}" for t in THRESHOLDS))
    for label, sets in (("", result["sets"]), ("named: ", result["named"])):
        for k, v in sets.items():
            print(f"{label}{k} | {v['pictures']} | " + " | ".join(str(v["passed"][str(t)]) for t in THRESHOLDS))
    print(f"written {out}")


if __name__ == "__main__":
    main()
