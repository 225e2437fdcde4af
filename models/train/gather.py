"""Gather the training pictures from installed Debian packages, with every file's licence.

    python3 models/train/gather.py OUT_DIR [--cartoons N]

Only permissively licensed pictures that ship inside Debian packages (setup.sh installs
them); nothing is downloaded from anywhere else. Writes:

    OUT_DIR/photos/{train,heldout}/NAME.png    photos, short side 512 (generator and gate)
    OUT_DIR/gate-photos/{train,heldout}/NAME.png  more photos, short side 512 (gate only)
    OUT_DIR/cartoons/{train,heldout}/NAME.png  clip art flattened on white, long side 160
    OUT_DIR/sources.tsv                        split, kind, file, package, licence, sha256

(look_comics.py adds OUT_DIR/look-comics/: the product's own comics of the photos, for the
gate's comic class; it needs the generator and `comicbooth`, so make_models.sh runs it later.)

Held-out photos and cartoons are never trained on: they measure the gate's accuracy and the
generator's held-out loss, and fill the report's contact sheet. The gate-only photos came
later (the gate needed more photos than the 15 the generator was trained on); keeping them
out of photos/ leaves the generator's training set, held-out figures and int8 calibration as
they were.

Reserved for evaluation, never gathered: every picture of python3-sklearn (china.jpg,
flower.jpg), python3-scipy (face, ascent), plasma-workspace-wallpapers, mate-backgrounds and
opencv-doc. The gate is measured on them (look comics made from them, and the photos
themselves) by models/train/eval_gate.py.
"""

import argparse
import hashlib
import sys
from pathlib import Path

from PIL import Image

SKIMAGE = Path("/usr/lib/python3/dist-packages/skimage/data")
BACKGROUNDS = Path("/usr/share/backgrounds")
OPENCLIPART = Path("/usr/share/openclipart/png")
REPO = Path(__file__).resolve().parents[2]

# (path, Debian package, licence as the package's copyright file states it)
PHOTOS = [
    (SKIMAGE / "astronaut.png", "python3-skimage", "public domain (NASA)"),
    (SKIMAGE / "chelsea.png", "python3-skimage", "public domain (Stefan van der Walt)"),
    (SKIMAGE / "coffee.png", "python3-skimage", "CC0-1.0 (Rachel Michetti)"),
    (SKIMAGE / "rocket.jpg", "python3-skimage", "public domain (SpaceX)"),
    (REPO / "assets/photos/grace_hopper.jpg", "python3-matplotlib (assets/photos/SOURCES.md)", "public domain (US Navy)"),
] + [
    (BACKGROUNDS / name, "lomiri-wallpapers", licence)
    for name, licence in [
        ("aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0 (Aitzol Berasategi)"),
        ("friends_by_Aitzol_Berasategi.jpg", "CC-BY-4.0 (Aitzol Berasategi)"),
        ("life_by_Aitzol_Berasategi.jpg", "CC-BY-4.0 (Aitzol Berasategi)"),
        ("picosdeeuropa_by_Aitzol_Berasategi.jpg", "CC-BY-4.0 (Aitzol Berasategi)"),
        ("sunset_by_Aitzol_Berasategi.jpg", "CC-BY-4.0 (Aitzol Berasategi)"),
        ("Picture_0B_by_freespace.jpg", "CC-BY-4.0 (freespace)"),
        ("Picture_1A_by_freespace.jpg", "CC-BY-4.0 (freespace)"),
        ("umang_by_Abhishek_Mudgal.jpg", "CC-BY-4.0 (Abhishek Mudgal)"),
        ("Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0 (Jakkub Mede)"),
        ("seeding_by_Clements_Engelhardt.jpg", "CC0-1.0 (Clements Engelhardt)"),
    ]
]
HELDOUT_PHOTOS = {"coffee.png", "rocket.jpg", "friends_by_Aitzol_Berasategi.jpg", "Wine_by_Jakkub_Mede.jpg"}

# Photos for the gate only (photo vs comic): the other permissively licensed photographs of
# skimage (licences: the docstrings of skimage/data/_fetchers.py). Grey photos are photos too:
# they are read as RGB. Left out: lomiri's CC-BY-SA files, ukui-wallpapers (CC-BY-SA-3.0),
# gnome-backgrounds (illustrations; CC-BY-SA), skimage's motorcycle pair and ihc/coins (no
# licence stated); scikit-learn's china/flower and SciPy's face/ascent (used here until the
# look stage came) are reserved for evaluation with the packages named in the docstring.
GATE_PHOTOS = [
    (SKIMAGE / "camera.png", "python3-skimage", "CC0-1.0 (Lav Varshney)"),
    (SKIMAGE / "hubble_deep_field.jpg", "python3-skimage", "public domain (NASA)"),
    (SKIMAGE / "retina.jpg", "python3-skimage", "CC0-1.0 (Mikael Häggström, Wikimedia Commons)"),
    (SKIMAGE / "clock_motion.png", "python3-skimage", "public domain (Stefan van der Walt)"),
    (SKIMAGE / "brick.png", "python3-skimage", "CC0-1.0 (CC0Textures Bricks25)"),
    (SKIMAGE / "grass.png", "python3-skimage", "CC0-1.0 (linolafett, DeviantArt Grass-01)"),
    (SKIMAGE / "gravel.png", "python3-skimage", "CC0-1.0 (CC0Textures Gravel04)"),
]
# Held out: a grey portrait.
HELDOUT_GATE_PHOTOS = {"camera.png"}
PHOTO_SHORT_SIDE = 512
CARTOON_LONG_SIDE = 160


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def photo(path):
    im = Image.open(path).convert("RGB")
    scale = PHOTO_SHORT_SIDE / min(im.size)
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)


def cartoon(path):
    """Clip art with transparency, flattened on white like a printed comic, long side 160."""
    im = Image.open(path).convert("RGBA")
    scale = CARTOON_LONG_SIDE / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    flat = Image.new("RGB", im.size, (255, 255, 255))
    flat.paste(im, mask=im.getchannel("A"))
    return flat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cartoons", type=int, default=2400, help="clip-art pictures to take (default 2400)")
    ap.add_argument("--photos", type=int, default=len(PHOTOS), help="photos to take (smoke runs take fewer)")
    ap.add_argument("--gate-photos", type=int, default=len(GATE_PHOTOS), help="gate-only photos to take")
    args = ap.parse_args()

    missing = [str(p) for p, _, _ in PHOTOS + GATE_PHOTOS if not p.exists()] + ([] if OPENCLIPART.is_dir() else [str(OPENCLIPART)])
    if missing:
        sys.exit(f"gather: missing {', '.join(missing)}: install the packages with models/train/setup.sh")

    rows = []
    chosen = PHOTOS[: args.photos]
    if not any(p.name in HELDOUT_PHOTOS for p, _, _ in chosen):
        chosen.append(next(entry for entry in PHOTOS if entry[0].name in HELDOUT_PHOTOS))
    for path, package, licence in chosen:
        split = "heldout" if path.name in HELDOUT_PHOTOS else "train"
        dest = args.out / "photos" / split / (path.stem + ".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        photo(path).save(dest)
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path  # no machine paths
        rows.append((split, "photo", str(shown), package, licence, sha256(path)))
    chosen = GATE_PHOTOS[: args.gate_photos]
    if chosen and not any(p.name in HELDOUT_GATE_PHOTOS for p, _, _ in chosen):
        chosen.append(next(entry for entry in GATE_PHOTOS if entry[0].name in HELDOUT_GATE_PHOTOS))
    for path, package, licence in chosen:
        split = "heldout" if path.name in HELDOUT_GATE_PHOTOS else "train"
        dest = args.out / "gate-photos" / split / (path.stem + ".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        photo(path).save(dest)
        rows.append((split, "gate-photo", str(path), package, licence, sha256(path)))

    # Clip art: every openclipart picture, in sorted order, split 5:1 by the hash of its name
    # (stable across runs and machines), skipping files PIL cannot read
    # or refuses as too large.
    clips = sorted(OPENCLIPART.rglob("*.png"))
    step = max(1, len(clips) // args.cartoons)
    taken = 0
    for path in clips[::step]:
        if taken >= args.cartoons:
            break
        name = str(path.relative_to(OPENCLIPART))
        split = "heldout" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 6 == 0 else "train"
        try:
            pic = cartoon(path)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # unreadable, or a poster too large to be clip art
        dest = args.out / "cartoons" / split / (name.replace("/", "__"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        pic.save(dest)
        rows.append((split, "cartoon", str(path), "openclipart-png", "public domain (openclipart.org dedication)", sha256(path)))
        taken += 1

    with open(args.out / "sources.tsv", "w") as f:
        f.write("split\tkind\tfile\tpackage\tlicence\tsha256\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    counts = {}
    for split, kind, *_ in rows:
        counts[(kind, split)] = counts.get((kind, split), 0) + 1
    print("gathered:", ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
