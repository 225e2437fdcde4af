"""The product's own comics of the gathered photos, for the gate's comic class.

    python3 models/train/look_comics.py DATA [--comicbooth BIN] [--model GENERATOR.onnx]

The booth draws its comics with the look stage (src/look/: the generator's small picture
brought to the output size, a small flat palette, ink outlines), and a comic stylized again
must pass the "already comic?" gate untouched. So the gate is shown those comics:
`comicbooth stylize` (BIN, default target/release/comicbooth, built with `cargo build
--release --locked`) turns the original file of every photo gather.py took (DATA/photos/ and
DATA/gate-photos/, both splits) into a comic, with the gate off (`[model] gate = false` in
DATA/look-comics/config.toml) so nothing is passed through, and with the generator in --model
(the one just trained; default the one built into BIN). Writes

    DATA/look-comics/{train,heldout}/NAME.png      at the default look (720 px short side, or
                                                   the photo's own when smaller)
    DATA/look-comics/train/NAME-360.png            training photos again at 360 px (`--size
                                                   360`: a smaller look.size or photo)
                                                   (--sizes changes both; smoke runs draw at 128)

and adds one row per comic to DATA/sources.tsv (kind look-comic; the file column names the
photo it was made from; package and licence are that photo's: a look comic is a picture
derived from a listed photo; sha256 of the comic). Rerunning replaces them. A comic is in the
split of its photo, so the held-out ones (never trained on) measure the gate.
"""

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = """# Written by models/train/look_comics.py: stylize everything (no gate), one thread.
[model]
gate = false
threads = 1
"""


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--comicbooth", type=Path, default=REPO / "target/release/comicbooth")
    ap.add_argument("--model", type=Path, help="generator ONNX file (default: the one built into comicbooth)")
    ap.add_argument("--sizes", default="look,360",
                    help="short sides to draw at: 'look' (look.size, 720) or pixels; the held-out photos get the "
                         "first only, the others are named NAME-SIZE.png (default look,360; smoke runs: 128)")
    args = ap.parse_args()
    if not args.comicbooth.is_file():
        sys.exit(f"look_comics: {args.comicbooth} is missing; fix: cargo build --release --locked")

    lines = (args.data / "sources.tsv").read_text().splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:]]
    rows = [r for r in rows if r[1] != "look-comic"]
    out = args.data / "look-comics"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = out / "config.toml"
    config.write_text(CONFIG)
    added = []
    first, *more = [None if v == "look" else int(v) for v in args.sizes.split(",")]
    for split, sizes in (("train", [first] + more), ("heldout", [first])):
        # The original files (not gather's 512 px copies): the comic is drawn at the size the
        # booth would draw it, up to 720 px on the short side.
        photos = [r for r in rows if r[1] in ("photo", "gate-photo") and r[0] == split]
        staged = out / f"{split}-photos"
        staged.mkdir(parents=True)
        for r in photos:
            src = Path(r[2]) if Path(r[2]).is_absolute() else REPO / r[2]
            shutil.copyfile(src, staged / src.name)
        for size in sizes:
            named = size is not None and size != first  # a second size: NAME-SIZE.png
            dest = out / (f"{split}-{size}" if named else split)
            cmd = [str(args.comicbooth), "stylize", "--config", str(config), str(staged), str(dest)]
            cmd += ["--size", str(size)] if size else []
            cmd += ["--model", str(args.model)] if args.model else []
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or not re.search(r"^\d+ written, 0 failed$", done.stdout, re.M):
                sys.exit(f"look_comics: {' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
            if "passed through" in done.stdout:
                sys.exit(f"look_comics: the gate was on:\n{done.stdout}")
            for r in photos:
                comic = dest / (Path(r[2]).stem + ".png")
                if named:  # into the split's folder, named by its size
                    comic = comic.rename(out / split / f"{comic.stem}-{size}.png")
                shown = comic.relative_to(args.data)
                how = f"comicbooth stylize{f' --size {size}' if size else ''}"
                added.append([split, "look-comic", f"{shown} ({how} of {r[2]})", r[3], r[4], sha256(comic)])
            if named:
                dest.rmdir()
        shutil.rmtree(staged)
    (args.data / "sources.tsv").write_text("\n".join([header] + ["\t".join(r) for r in rows + added]) + "\n")
    counts = {s: sum(1 for r in added if r[0] == s) for s in ("train", "heldout")}
    print(f"look comics: train {counts['train']}, heldout {counts['heldout']} (in {out})")


if __name__ == "__main__":
    main()
