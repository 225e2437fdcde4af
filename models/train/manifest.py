"""Write the manifest (TOML) beside every shipped model file.

    .venv/bin/python models/train/manifest.py DATA RUN DIR --commit SHA

For DIR/comic_generator.{f32,int8}.onnx and DIR/comic_gate.f32.onnx writes the .toml
that comicbooth checks at load time (sha256, role, layout, ranges, size multiple) followed by
the provenance: training data sources and licences (from DATA/sources.tsv), the training
commands, the git commit of the recipe and the run's figures.
"""

import argparse
import collections
import hashlib
import json
from pathlib import Path

import onnx

COMMANDS = """models/train/make_models.sh (which runs, in order:
  models/train/setup.sh
  python3 models/train/gather.py DATA
  python3 models/train/train.py generator DATA RUN --minutes 95
  python3 models/train/export.py RUN OUT generator
  .venv/bin/python models/train/quantize.py DATA OUT
  .venv/bin/python models/train/manifest.py DATA RUN OUT --commit <recipe commit> --only comic_generator
  cargo build --release --locked
  python3 models/train/look_comics.py DATA   (the look's comics of the photos: comicbooth stylize, gate off)
  python3 models/train/train.py gate DATA RUN --minutes 5   (the stats gate: 2 to 3 minutes)
  python3 models/train/export.py RUN OUT gate
  .venv/bin/python models/train/manifest.py DATA RUN OUT --commit <recipe commit> --only comic_gate
  python3 models/train/eval_gate.py DATA OUT/comic_gate.f32.onnx   (the packages reserved for evaluation)
  .venv/bin/python models/train/report.py DATA RUN OUT models/report)"""

FORMS = {
    "f32": "float32 weights and activations",
    "int8": "int8 per-channel weights, uint8 activations: QLinearConv (ONNX QOperator form, "
    "standard ops only), calibrated with MinMax on crops of the training photos",
}

ROLES = {
    "comic_generator": dict(
        role="generator",
        what="Photo to comic picture. Input and output: 1x3xHxW float32 RGB (PyTorch order), "
        "0.0 black to 1.0 full; height and width free, multiples of 4.",
        output_range="[0.0, 1.0]",
        size_multiple=4,
        native_size=None,
        forms=("f32", "int8"),
    ),
    "comic_gate": dict(
        role="gate",
        what="Is the picture already comic-style? Input: 1x3x256x256 float32 RGB, 0.0 to 1.0. "
        "Output: 1x1 logit (sigmoid > 0.5: comic). 21 fixed picture statistics weighed by a "
        "logistic regression (models/train/nets.py, StatsGate).",
        forms=("f32",),
        output_range="[-inf, inf]",
        size_multiple=16,
        native_size=256,
    ),
}


def sources_summary(data, role):
    """(kind, package, licence) -> files. The look comics (made by comicbooth from the listed
    photos with the generator's output) count for the gate only."""
    counts = collections.Counter()
    for line in (Path(data) / "sources.tsv").read_text().splitlines()[1:]:
        split, kind, _file, package, licence, _sha = line.split("\t")
        if kind == "look-comic" and role != "gate":
            continue
        counts[(kind, package, licence.split(" (")[0])] += 1
    return counts


# TOML has no null: a figure that is None (an option not used, such as the gate's augment) is
# left out of `figures`, as are tables (the gate's weights: RUN/gate.json and the report).
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("run", type=Path)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--commit", required=True, help="git commit of models/train used for the run")
    ap.add_argument("--only", choices=sorted(ROLES), help="write this model's manifests only (a model retrained alone)")
    args = ap.parse_args()
    for stem, info in ROLES.items():
        if args.only and stem != args.only:
            continue
        data_lines = "\n".join(
            f'  {{ kind = "{k}", package = "{p}", licence = "{lic}", files = {n} }},'
            for (k, p, lic), n in sorted(sources_summary(args.data, info["role"]).items())
        )
        derived = ("# look-comic files are derived pictures: comicbooth stylize (the look stage, gate off) of the\n"
                   "# listed photos, with that photo's package and licence (look_comics.py).\n"
                   if info["role"] == "gate" else "")
        stage = "generator" if info["role"] == "generator" else "gate"
        figures = json.loads((args.run / f"{stage}.json").read_text())
        for form in info["forms"]:
            form_text = FORMS[form]
            path = args.dir / f"{stem}.{form}.onnx"
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            opset = next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))
            # The gate's side is the one it was trained at (train.py --gate-side, in RUN/gate.json).
            side = figures.get("side", info["native_size"]) if info["role"] == "gate" else info["native_size"]
            native = f"native_size = {side}\n" if side else ""
            text = f"""# Manifest of {path.name}, written by models/train/manifest.py.
# {info["what"].replace("256x256", f"{side}x{side}")}
# Form: {form_text}.
# comicbooth reads the fields above [provenance] at load time and refuses a mismatch.
name = "{stem.replace('_', '-')}-{form}"
file = "{path.name}"
sha256 = "{sha}"
role = "{info["role"]}"
layout = "NCHW"
input_range = [0.0, 1.0]
output_range = {info["output_range"]}
size_multiple = {info["size_multiple"]}
{native}opset = {opset}
licence = "MIT (part of comicbooth); trained only on the data listed below"
made_by = "models/train/make_models.sh"

[provenance]
recipe_commit = "{args.commit}"
training_commands = \"\"\"
{COMMANDS}\"\"\"
# Every training file with its package, licence and sha256: models/report/training-data.tsv.
{derived}training_data = [
{data_lines}
]
tools = "Debian bookworm python3-torch 1.13.1, python3-numpy 1.24.2, python3-pil 9.4.0; onnx 1.23.2, onnxruntime 1.32.0 (models/requirements.txt)"
figures = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(figures.items()) if v is not None and not isinstance(v, dict))} }}
report = "models/report/report.md"
"""
            path.with_suffix(".toml").write_text(text)
            print(f"wrote {path.with_suffix('.toml')}")


if __name__ == "__main__":
    main()
