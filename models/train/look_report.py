#!/usr/bin/env python3
"""The look's report: how much each way of drawing the comic reads as a comic, measured on
photos the models never saw, beside the photos themselves and a set of real comic art.

    .venv/bin/python models/train/look_report.py            # about 2 minutes on 2 cores
    .venv/bin/python models/train/look_report.py --model target/train/out/comic_generator.f32.onnx \
        --report target/train/look-candidate   # a candidate generator (its manifest beside it), same build

It fetches the evaluation photos from Debian (the packages kept for evaluation: nothing is
ever trained on them), runs `comicbooth stylize --measure` (release build) once per way of
drawing, and writes models/report/look.md, look.json and look_contact_sheet.jpg. The figures
come from comicbooth itself (src/look/measure.rs), so the report and the tests agree.

Ways of drawing, all with the gate off:
  before     the generator alone at 256 px on the long side (what the booth saved before)
  generator  the generator alone at the comic's size (720 px short side)
  guided     the generator at 256, brought to 720 by the guided filter, no palette, no ink
  flat       guided + one 24-colour palette, no ink
  look       the shipped look: guided + palette + ink (the defaults of [look])
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "target" / "look-eval"
BIN = ROOT / "target" / "release" / "comicbooth"
REPORT = ROOT / "models" / "report"

# (package, file inside it, name): Debian bookworm; kept for evaluation (never trained on).
EVAL = [
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/messi5.jpg", "messi5"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/baboon.jpg", "baboon"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/fruits.jpg", "fruits"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/butterfly.jpg", "butterfly"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/home.jpg", "home"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/squirrel_cls.jpg", "squirrel"),
    ("python3-sklearn", "usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg", "china"),
    ("python3-sklearn", "usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg", "flower"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/LadyBird.jpg", "ladybird"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/GreenMeadow.jpg", "meadow"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/Autumn/contents/images/1920x1080.jpg", "autumn"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg", "cups"),
]
SHEET = ["messi5", "baboon", "china", "fruits", "cups"]
# Real comic art: openclipart-png's people (public domain), flattened on white.
REFERENCE_DIR = Path("/usr/share/openclipart/png/people")
REFERENCE_COUNT = 40

WAYS = {
    "before": "[model]\ngate = false\nsize = 256\n[look]\nsize = 256\ncolours = 0\nink = false\n",
    "generator": "[model]\ngate = false\nsize = 2048\n[look]\ncolours = 0\nink = false\n",
    "guided": "[model]\ngate = false\n[look]\ncolours = 0\nink = false\n",
    "flat": "[model]\ngate = false\n[look]\nink = false\n",
    "look": "[model]\ngate = false\n",
}

LINE = re.compile(
    r"^(?P<path>.+?): photo flat (?P<pf>[\d.]+)%, (?P<pc>\d+) colours cover 90%, ink (?P<pi>[\d.]+)%; "
    r"comic flat (?P<cf>[\d.]+)%, (?P<cc>\d+) colours cover 90%, ink (?P<ci>[\d.]+)%$"
)


def fetch_photos():
    debs, root, photos = WORK / "debs", WORK / "root", WORK / "photos"
    for d in (debs, root, photos):
        d.mkdir(parents=True, exist_ok=True)
    for package in sorted({p for p, _, _ in EVAL}):
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        deb = next(debs.glob(f"{package}_*.deb"))
        marker = root / f".{package}"
        if not marker.exists():
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            marker.touch()
    for _, inside, name in EVAL:
        out = photos / f"{name}.jpg"
        if not out.exists():
            Image.open(root / inside).convert("RGB").save(out, quality=95)
    refs = WORK / "reference"
    refs.mkdir(exist_ok=True)
    for f in sorted(REFERENCE_DIR.glob("*.png"))[:REFERENCE_COUNT]:
        out = refs / f"{f.stem}.png"
        if not out.exists():
            art = Image.open(f).convert("RGBA")
            paper = Image.new("RGBA", art.size, "white")
            Image.alpha_composite(paper, art).convert("RGB").save(out)
    return photos, refs


def stylize(inputs, way, config_text, model=None, tag=""):
    if model:  # a generator file other than the built-in one (its manifest .toml beside it)
        config_text = config_text.replace("[model]\n", f'[model]\npath = "{Path(model).resolve()}"\n', 1)
    out = WORK / f"out{tag}" / way
    out.mkdir(parents=True, exist_ok=True)
    config = WORK / f"{way}{tag}.toml"
    config.write_text(config_text)
    started = time.monotonic()
    run = subprocess.run(
        [str(BIN), "--config", str(config), "stylize", str(inputs), str(out), "--measure"],
        check=True, capture_output=True, text=True,
    )
    seconds = time.monotonic() - started
    figures = {}
    for line in run.stdout.splitlines():
        m = LINE.match(line)
        if m:
            name = Path(m["path"]).stem
            figures[name] = {
                "photo": {"flat": float(m["pf"]), "colours_90": int(m["pc"]), "ink": float(m["pi"])},
                "comic": {"flat": float(m["cf"]), "colours_90": int(m["cc"]), "ink": float(m["ci"])},
            }
    return out, figures, seconds


def cell(f):
    return f"{f['flat']:.1f}% / {f['colours_90']} / {f['ink']:.1f}%"


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def contact_sheet(photos, outs, names, path):
    """One row per photo: the photo, before (256 px, shown enlarged), the generator alone at the
    comic's size, and the shipped look, each at the comic's full size."""
    rows = []
    for name in names:
        look = Image.open(outs["look"] / f"{name}.png").convert("RGB")
        size = look.size
        tiles = [Image.open(photos / f"{name}.jpg").convert("RGB").resize(size, Image.LANCZOS)]
        tiles.append(Image.open(outs["before"] / f"{name}.png").convert("RGB").resize(size, Image.BILINEAR))
        tiles.append(Image.open(outs["generator"] / f"{name}.png").convert("RGB"))
        tiles.append(look)
        row = Image.new("RGB", (sum(t.width for t in tiles), size[1]), "white")
        x = 0
        for t in tiles:
            row.paste(t, (x, 0))
            x += t.width
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path, quality=82, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="generator ONNX file to draw with instead of the built-in one")
    ap.add_argument("--report", type=Path, default=REPORT, help="where look.md, look.json and the sheet go")
    args = ap.parse_args()
    tag = "-" + Path(args.model).parent.name if args.model else ""
    report = args.report
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    photos, refs = fetch_photos()
    results, outs, seconds = {}, {}, {}
    for way, text in WAYS.items():
        outs[way], results[way], seconds[way] = stylize(photos, way, text, args.model, tag)
    _, reference, _ = stylize(refs, "reference", WAYS["before"])
    names = [n for _, _, n in EVAL]
    lines = [
        "# The look: figures on held-out photos",
        "",
        "Made by `models/train/look_report.py` (`comicbooth stylize --measure`, release build, gate",
        "off). Photos from the packages kept for evaluation (never trained on). Each cell: flat share",
        "/ colours covering 90% of pixels / ink share, at the comic's size (`src/look/measure.rs`:",
        "flat = 5x5 neighbourhood varying under 3 levels in every channel; ink = dark pixels with a",
        "light one within 2 px). Aim: at least 30% flat, at most 40 colours.",
        "",
        *([f"Generator: `{Path(args.model).name}` given with --model (not the built-in one).", ""] if args.model else []),
        "| photo | package | size | photo | before (256 px) | generator at size | guided | flat | look (shipped) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for package, _, name in EVAL:
        size = Image.open(outs["look"] / f"{name}.png").size
        row = [name, package, f"{size[0]}x{size[1]}", cell(results["look"][name]["photo"])]
        row += [cell(results[w][name]["comic"]) for w in ["before", "generator", "guided", "flat", "look"]]
        lines.append("| " + " | ".join(row) + " |")
    med = {w: {k: median([results[w][n]["comic"][k] for n in names]) for k in ["flat", "colours_90", "ink"]} for w in WAYS}
    med_photo = {k: median([results["look"][n]["photo"][k] for n in names]) for k in ["flat", "colours_90", "ink"]}
    ref = {k: median([f["photo"][k] for f in reference.values()]) for k in ["flat", "colours_90", "ink"]}
    lines += [
        "| **median** | | | " + cell(med_photo) + " | " + " | ".join(cell(med[w]) for w in ["before", "generator", "guided", "flat", "look"]) + " |",
        "",
        f"Comic reference: {len(reference)} pictures of openclipart-png's `people/` (public domain),",
        f"flattened on white, at their own size up to 720 px: median {cell(ref)}.",
        "",
        "Seconds for the whole set of " + str(len(names)) + " photos on this run's machine (stylize, including loading",
        "the model once per size; a rough cost, the benches have the exact one): "
        + ", ".join(f"{w} {seconds[w]:.1f} s" for w in WAYS) + ".",
        "",
        "`look_contact_sheet.jpg`, one row per photo (" + ", ".join(SHEET) + "): the photo, before",
        "(256 px, enlarged), the generator alone at the comic's size, the shipped look.",
        "",
    ]
    report.mkdir(parents=True, exist_ok=True)
    (report / "look.md").write_text("\n".join(lines))
    (report / "look.json").write_text(json.dumps(
        {"ways": results, "median": med, "median_photo": med_photo, "reference_median": ref,
         "reference": reference, "seconds": seconds}, indent=1, sort_keys=True))
    contact_sheet(photos, outs, SHEET, report / "look_contact_sheet.jpg")
    print((report / "look.md").read_text())


if __name__ == "__main__":
    sys.exit(main())
