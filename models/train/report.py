"""The models' report: contact sheet, flicker figure, gate accuracy (models/report/).

    .venv/bin/python models/train/report.py DATA RUN MODELS_DIR REPORT_DIR [--gate-only]

Runs the shipped ONNX files with onnxruntime (the reference runtime of the golden tests):
- contact_sheet.png: 12 photos (the 4 held-out ones first), each as input, teacher, f32
  generator, int8 generator, 128x128 tiles;
- flicker: a still scene filmed with sensor-like noise (Gaussian, sigma 0.02, and a 2% gain
  jitter) for 8 frames; the mean absolute difference between consecutive outputs, for the
  teacher run per frame and for both generators;
- the gate's accuracy and confusion matrix (f32, the only form it ships in) on the held-out set train.py saved
  (held-out photos, held-out clip art and the teacher's output of held-out photos), and, where
  RUN has it, on gate-heldout-v1.npz (the previous gate's 600 held-out pictures, from 4 photos
  that are still held out) so that gates trained on different photos compare on one set;
  the share of the look's held-out comics it passes (gate-heldout-look.npz), and eval_gate.py's
  figures on the packages reserved for evaluation (RUN/gate-eval.json) where RUN has them;
- metrics.json and report.md with all the figures. --gate-only redoes the gate's part alone
  (the generator's figures stay as metrics.json has them); --generator-only the generator's
  part alone, for a generator retrained without the gate (the gate's figures stay as
  metrics.json has them, but eval_gate.py's from RUN/gate-eval.json where RUN has it: the
  look comics it judges are drawn by the new generator).
"""

import argparse
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).parent))
import teacher  # noqa: E402

SIDE = 256
TILE = 128


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(sess, rgb):
    out = sess.run(None, {"image": rgb.transpose(2, 0, 1)[None].astype(np.float32)})[0]
    return out[0].transpose(1, 2, 0) if out.ndim == 4 else out


def square(path):
    im = Image.open(path).convert("RGB")
    s = min(im.size)
    box = ((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2)
    return np.asarray(im.crop(box).resize((SIDE, SIDE), Image.LANCZOS), dtype=np.float32) / 255


def tile(a):
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((TILE, TILE), Image.LANCZOS)


def gate_probabilities(sess, xs):
    """The gate's comic probability of each Nx3xHxW picture in `xs` (float32, 0..1)."""
    logits = np.array([sess.run(None, {"image": xs[i : i + 1]})[0][0, 0] for i in range(len(xs))])
    return 1 / (1 + np.exp(-logits.astype(np.float64)))


def camera_degradations(sess, npz):
    """Share of the held-out photo views the gate calls comic at each threshold, as they are
    and after JPEG compression, Gaussian blur and sensor noise (at the gate's input size; the
    blur's sigma is given at 128x128 and scaled with it)."""
    held = np.load(npz)
    photos = [Image.fromarray(a.transpose(1, 2, 0)) for a in held["x"][held["y"][:, 0] == 0]]
    scale = held["x"].shape[-1] / 128

    def jpeg(im, quality):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return Image.open(buf).convert("RGB")

    rng = np.random.default_rng(11)
    cases = {
        "none": lambda im: im,
        "JPEG quality 50": lambda im: jpeg(im, 50),
        "JPEG quality 20": lambda im: jpeg(im, 20),
        "blur sigma 0.8 px": lambda im: im.filter(ImageFilter.GaussianBlur(0.8 * scale)),
        "blur sigma 1.5 px (badly out of focus)": lambda im: im.filter(ImageFilter.GaussianBlur(1.5 * scale)),
        "sensor noise sigma 0.01": lambda im: Image.fromarray(np.clip(
            np.asarray(im, np.float32) + rng.normal(0, 2.55, (im.height, im.width, 3)), 0, 255).round().astype(np.uint8)),
    }
    result = {}
    for name, degrade in cases.items():
        xs = np.stack([(np.asarray(degrade(im), np.float32) / 255).transpose(2, 0, 1) for im in photos])
        probs = gate_probabilities(sess, xs)
        result[name] = {str(t): round(float((probs >= t).mean()), 4) for t in THRESHOLDS}
    return result


THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def default_threshold():
    """model.gate_threshold's default, as src/default-config.toml has it."""
    text = (Path(__file__).resolve().parents[2] / "src/default-config.toml").read_text()
    return float(re.search(r"^gate_threshold = ([0-9.]+)", text, re.M).group(1))


def generator_figures(data, models, out):
    """The contact sheet (written to `out`) and the generator's figures."""
    g32, g8 = session(models / "comic_generator.f32.onnx"), session(models / "comic_generator.int8.onnx")
    photos = sorted((data / "photos" / "heldout").glob("*.png")) + sorted((data / "photos" / "train").glob("*.png"))
    photos = photos[:12]
    heldout = {p.name for p in (data / "photos" / "heldout").glob("*.png")}

    sheet = Image.new("RGB", (4 * TILE, len(photos) * TILE), "white")
    l1_teacher, l1_int8 = [], []
    for row, path in enumerate(photos):
        x = square(path)
        t, a, b = teacher.comic(x), run(g32, x), run(g8, x)
        if path.name in heldout:
            l1_teacher.append(float(np.abs(a - t).mean()))
        l1_int8.append(float(np.abs(a - b).mean()))
        for col, img in enumerate((x, t, a, b)):
            sheet.paste(tile(img), (col * TILE, row * TILE))
    sheet.save(out / "contact_sheet.png", optimize=True)

    rng = np.random.default_rng(5)
    flicker = {"teacher": [], "f32": [], "int8": []}
    for path in sorted((data / "photos" / "heldout").glob("*.png")):
        x = square(path)
        frames = [np.clip(x * rng.uniform(0.98, 1.02) + rng.normal(0, 0.02, x.shape), 0, 1).astype(np.float32)
                  for _ in range(8)]
        for name, fn in (("teacher", teacher.comic), ("f32", lambda f: run(g32, f)), ("int8", lambda f: run(g8, f))):
            outs = [fn(f) for f in frames]
            flicker[name] += [float(np.abs(outs[i + 1] - outs[i]).mean()) for i in range(len(outs) - 1)]
    return dict(
        heldout_l1_f32_to_teacher=round(float(np.mean(l1_teacher)), 5),
        l1_int8_to_f32=round(float(np.mean(l1_int8)), 5),
        flicker_mean_abs_diff_consecutive_frames={k: round(float(np.mean(v)), 5) for k, v in flicker.items()},
        contact_sheet_photos=[p.name + (" (held out)" if p.name in heldout else "") for p in photos],
    )


def gate_figures(run_dir, models):
    """The shipped gate's figures on the held-out sets train.py saved in RUN, and
    eval_gate.py's on the reserved packages (RUN/gate-eval.json) where RUN has them."""
    gate_sess = session(models / "comic_gate.f32.onnx")  # the gate ships as f32 only

    def score_gate(npz):
        held = np.load(npz)
        xs, ys = held["x"].astype(np.float32) / 255, held["y"][:, 0]
        prob = gate_probabilities(gate_sess, xs)
        pred = prob > 0.5
        confusion = [[int(((ys == a) & (pred == b)).sum()) for b in (0, 1)] for a in (0, 1)]
        # What model.gate_threshold trades: photos passed through untouched (the guest gets
        # no comic) against comic pictures recognised.
        thresholds = {
            str(t): dict(photos_passed=round(float((prob[ys == 0] >= t).mean()), 4),
                         comics_passed=round(float((prob[ys == 1] >= t).mean()), 4))
            for t in THRESHOLDS
        }
        return {"f32": dict(accuracy=round(float((pred == ys).mean()), 4), confusion=confusion,
                            thresholds=thresholds)}

    figures = dict(gate_training=json.loads((run_dir / "gate.json").read_text()),
                   gate_heldout=score_gate(run_dir / "gate-heldout.npz"),
                   gate_photos_judged_comic_under_camera_degradations=camera_degradations(
                       gate_sess, run_dir / "gate-heldout.npz"))
    if (run_dir / "gate-heldout-v1.npz").exists():
        figures["gate_heldout_v1_set"] = score_gate(run_dir / "gate-heldout-v1.npz")
    if (run_dir / "gate-heldout-look.npz").exists():
        looks = np.load(run_dir / "gate-heldout-look.npz")["x"].astype(np.float32) / 255
        prob = gate_probabilities(gate_sess, looks)
        figures["gate_heldout_look_comic_views_passed"] = {str(t): round(float((prob >= t).mean()), 4) for t in THRESHOLDS}
    if (run_dir / "gate-eval.json").exists():
        figures["gate_eval"] = json.loads((run_dir / "gate-eval.json").read_text())
    return figures


def gate_markdown(metrics):
    """The report's gate section."""
    gate, gate_train = metrics["gate_heldout"], metrics["gate_training"]
    gate_v1, camera = metrics.get("gate_heldout_v1_set"), metrics["gate_photos_judged_comic_under_camera_degradations"]
    looks, ev = metrics.get("gate_heldout_look_comic_views_passed"), metrics.get("gate_eval")
    side = gate_train.get("side", 128)
    default = metrics.get("gate_default_threshold")
    c32 = gate["f32"]["confusion"]
    weights = gate_train.get("weights", {})
    md = f"""## Gate ("already comic?")
Held-out set: 600 pictures at {side}x{side} (crops of the {gate_train.get("heldout_photos", "held-out")} held-out photos; held-out clip art and the
teacher's output of held-out photos as comic), none seen in training. The gate is
`nets.StatsGate` ({gate_train.get("parameters", "?")} parameters): 21 fixed picture statistics
of its {side}x{side} input and a logistic regression on them, trained on {gate_train.get("views", "?")} views of
{gate_train.get("train_photos", "?")} photos, clip art, teacher outputs and {gate_train.get("train_look_comics", 0)} look comics in
{gate_train.get("minutes", "?")} minutes (C {gate_train.get("C", "?")}, cross-validated training
accuracy {gate_train.get("cv_accuracy", "?")}). It ships as f32 only: it has no convolution to
quantize.

| model | accuracy | photo as photo | photo as comic | comic as photo | comic as comic |
|---|---|---|---|---|---|
| f32 | {gate["f32"]["accuracy"]:.3f} | {c32[0][0]} | {c32[0][1]} | {c32[1][0]} | {c32[1][1]} |
"""
    if gate_v1:
        md += """
The first report's held-out set (`gate-heldout-v1.npz`: the same draw from the generator's 4
held-out photos alone):

| model | accuracy | photo as photo | photo as comic | comic as photo | comic as comic |
|---|---|---|---|---|---|
""" + "".join(
            f"| {form} | {v['accuracy']:.3f} | {v['confusion'][0][0]} | {v['confusion'][0][1]} | "
            f"{v['confusion'][1][0]} | {v['confusion'][1][1]} |\n" for form, v in gate_v1.items())

    def count(group, name, t):
        v = ev[group][name]
        return f"{v['passed'][str(t)]}/{v['pictures']}"

    md += f"""
`model.gate_threshold` (f32 gate; default {default}): share of held-out photos passed through
untouched (a guest would get no comic), and of comic pictures recognised. Views: the held-out
set above; look comics: the look's comics of the held-out photos (`comicbooth stylize`, gate
off), 300 views, a third of them whole as stylize shows them to the gate.
"""
    head = "| threshold | photos passed through | comics (clip art, teacher) passed | look comics (views) passed |"
    rule = "|---|---|---|---|"
    if ev:
        md += ("Whole pictures, as `comicbooth stylize` decides (`eval_gate.py`): the held-out photos and their\n"
               "look comics, and the photos of the packages reserved for evaluation (never in the recipe) and\n"
               "their look comics.\n")
        head += " held-out look comics | reserved look comics | held-out photos | reserved photos | the same as JPEG q50 |"
        rule += "---|---|---|---|---|"
    md += "\n" + head + "\n" + rule + "\n"
    for t, v in gate["f32"]["thresholds"].items():
        md += f"| {t} | {v['photos_passed']:.1%} | {v['comics_passed']:.1%} |"
        md += f" {looks[t]:.1%} |" if looks else " |"
        if ev:
            md += "".join(f" {count('sets', k, t)} |" for k in
                          ("heldout_look_comics", "reserved_look_comics", "heldout_photos", "reserved_photos",
                           "reserved_photos_jpeg50"))
        md += "\n"
    if ev:
        named = ev["named"]
        md += f"""
The reserved packages: opencv-doc (examples/data: messi5, baboon, fruits, butterfly, home,
squirrel_cls), mate-backgrounds (the 12 nature photographs), plasma-workspace-wallpapers (its 11
photographs), python3-sklearn (china, flower), python3-scipy (face, ascent). The 11 named when the
look came (the 6 opencv ones, mate LadyBird and GreenMeadow, sklearn's two and plasma Autumn,
which is a painting, not a photo) on their own:

| threshold | look comics passed | photos passed | plasma Autumn (a painting) passed | its look comic passed |
|---|---|---|---|---|
""" + "".join(
            f"| {t} | {count('named', 'reserved_look_comics', t)} | {count('named', 'reserved_photos', t)} | "
            f"{count('named', 'reserved_paintings', t)} | {count('named', 'reserved_painting_look_comics', t)} |\n"
            for t in THRESHOLDS)
        probs = ev["probabilities"]
        missed = sorted((p, n) for n, p in probs["reserved_look_comics"].items() if default and p < default)
        highest = sorted(((p, n) for n, p in probs["reserved_photos"].items()), reverse=True)[:3]
        if default:
            md += (f"\nAt {default}, the reserved look comics the gate stylizes again: "
                   + (", ".join(f"{n} ({p:.3f})" for p, n in missed) or "none")
                   + ". The reserved photos it rates most comic: " + ", ".join(f"{n} ({p:.3f})" for p, n in highest)
                   + ". Plasma's paintings: " + ", ".join(f"{n} ({p:.3f})" for n, p in probs["reserved_paintings"].items())
                   + "; their look comics: "
                   + ", ".join(f"{n} ({p:.3f})" for n, p in probs["reserved_painting_look_comics"].items()) + ".\n")
    if weights:
        md += """
The statistics and their weights (per unit of the statistic; the logit is their weighted sum
plus a bias; a positive weight pushes towards comic):

| statistic | weight |
|---|---|
""" + "".join(f"| {k} | {v} |\n" for k, v in weights.items())
    md += (
        f"\nHeld-out photos (the 300 above) degraded as a poor camera would, and the share of them\n"
        f"the gate then calls comic (passed through untouched; the default threshold is {default}).\n"
        f"Blur sigmas are at 128x128, scaled to the gate's {side}x{side}:\n\n"
        "| degradation | " + " | ".join(f"at {t}" for t in THRESHOLDS) + " |\n|---|" + "---|" * len(THRESHOLDS) + "\n"
        + "".join(f"| {k} | " + " | ".join(f"{v[str(t)]:.1%}" for t in THRESHOLDS) + " |\n" for k, v in camera.items())
    )
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("data", "run", "models", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--gate-only", action="store_true",
                    help="redo the gate's figures only (a gate retrained alone); the generator's stay as "
                         "OUT/metrics.json has them, and the contact sheet as it is")
    ap.add_argument("--generator-only", action="store_true",
                    help="redo the generator's figures only (a generator retrained alone); the gate's stay "
                         "as OUT/metrics.json has them, but for RUN/gate-eval.json where RUN has it")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.generator_only:
        metrics = json.loads((out / "metrics.json").read_text())
        metrics.update(generator=json.loads((args.run / "generator.json").read_text()),
                       **generator_figures(args.data, args.models, out))
        if (args.run / "gate-eval.json").exists():
            metrics["gate_eval"] = json.loads((args.run / "gate-eval.json").read_text())
    elif args.gate_only:
        metrics = json.loads((out / "metrics.json").read_text())
        for key in [k for k in metrics if k.startswith("gate_")]:
            del metrics[key]
    else:
        metrics = dict(generator=json.loads((args.run / "generator.json").read_text()),
                       **generator_figures(args.data, args.models, out))
    if not args.generator_only:
        metrics.update(gate_figures(args.run, args.models))
    metrics.update(gate_default_threshold=default_threshold())
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    generator, flicker = metrics["generator"], metrics["flicker_mean_abs_diff_consecutive_frames"]
    md = f"""# Model report

Made by `models/train/report.py` from the training run's checkpoints and the shipped ONNX
files (run with onnxruntime {ort.__version__}); every figure is also in `metrics.json`.

## Generator
- {generator["parameters"]} parameters, {generator["mmac_256"]} MMAC at 256x256;
  trained {generator["steps"]} steps in {generator["minutes"]} minutes.
- Mean absolute difference to the teacher on the held-out photos (0..1 scale):
  {metrics["heldout_l1_f32_to_teacher"]} (f32). int8 against f32 on the 12 sheet photos:
  {metrics["l1_int8_to_f32"]}.
- `contact_sheet.png`: one row per photo (input, teacher, f32, int8). Rows:
  {", ".join(metrics["contact_sheet_photos"])}.

## Flicker
A still scene (the held-out photos) filmed for 8 frames with sensor-like noise (Gaussian,
sigma 0.02, and a 2% gain jitter); mean absolute difference between consecutive outputs:

| output | flicker |
|---|---|
| teacher, run on each frame | {flicker["teacher"]} |
| generator f32 | {flicker["f32"]} |
| generator int8 | {flicker["int8"]} |

""" + gate_markdown(metrics)
    latency = out / "tract-latency.txt"
    if latency.exists():
        md += f"""
## tract latency (`comicbooth bench`, release build, this machine): generator f32 and int8, gate f32
```
{latency.read_text().rstrip()}
```
Which form is the default and why: `models/train/README.md`, section int8.
"""
    (out / "report.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
