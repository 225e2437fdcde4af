#!/usr/bin/env bash
# The whole model recipe: gather data, train the generator (GAN), draw the look's comics with
# it (comicbooth stylize), train the gate, export to ONNX, quantize to int8, measure the gate on
# the packages reserved for evaluation, write the report and the manifests.
#
#   models/train/make_models.sh            full run (about 2 hours on 2 cores), results into
#                                          models/ and models/report/
#   models/train/make_models.sh --smoke OUT  a few steps on a few pictures into OUT (CI checks
#                                          that the recipe runs end to end; tract then loads
#                                          and runs the result: see scripts/test)
#
# Work files (data, checkpoints) go to target/train/ (or OUT for --smoke); a stopped full run
# resumes from its checkpoints when started again. GEN_MINUTES and GATE_MINUTES change the
# training time budgets (defaults 95 and 5). The generator's budget is time, not steps: the
# shipped one took 8,368 steps in 95 minutes (0.68 s a step on one quiet core).
set -euo pipefail
cd "$(dirname "$0")/../.."
torch_python=/usr/bin/python3   # Debian's python3, which has python3-torch
venv_python=.venv/bin/python    # onnx, onnxruntime (models/requirements.txt)

models/train/setup.sh
[ -x "$venv_python" ] || scripts/setup-dev

if [ "${1:-}" = "--smoke" ]; then
  out=${2:?usage: make_models.sh --smoke OUT}
  rm -rf "$out"
  data=$out/data run=$out/run
  # The look comics come from the debug build (scripts/test has built it) at 128 px: quick.
  comicbooth=${COMICBOOTH:-target/debug/comicbooth}
  [ -x "$comicbooth" ] || cargo build --locked --quiet
  "$torch_python" models/train/gather.py "$data" --photos 3 --gate-photos 1 --cartoons 30
  "$torch_python" models/train/train.py generator "$data" "$run" --minutes 5 --steps 3
  "$torch_python" models/train/export.py "$run" "$out" generator
  "$venv_python" models/train/quantize.py "$data" "$out"
  "$venv_python" models/train/manifest.py "$data" "$run" "$out" --commit "$(git rev-parse HEAD)" --only comic_generator
  "$torch_python" models/train/look_comics.py "$data" --comicbooth "$comicbooth" \
    --model "$out/comic_generator.f32.onnx" --sizes 128
  "$torch_python" models/train/train.py gate "$data" "$run" --minutes 5 --views 40
  "$torch_python" models/train/export.py "$run" "$out" gate
  "$venv_python" models/train/manifest.py "$data" "$run" "$out" --commit "$(git rev-parse HEAD)" --only comic_gate
  echo "smoke models in $out"
  exit 0
fi

data=target/train/data run=target/train/run out=target/train/out
[ -f "$data/sources.tsv" ] || "$torch_python" models/train/gather.py "$data"
"$torch_python" models/train/train.py generator "$data" "$run" --minutes "${GEN_MINUTES:-95}"
"$torch_python" models/train/export.py "$run" "$out" generator
"$venv_python" models/train/quantize.py "$data" "$out"
cp "$out/comic_generator.f32.onnx" "$out/comic_generator.int8.onnx" models/
"$venv_python" models/train/manifest.py "$data" "$run" models --commit "$(git rev-parse HEAD)" --only comic_generator
# The gate's comic class includes the product's own comics: comicbooth (built with the new
# generator inside) draws them from the photos, gate off (look_comics.py).
cargo build --release --locked --quiet
"$torch_python" models/train/look_comics.py "$data"
"$torch_python" models/train/train.py gate "$data" "$run" --minutes "${GATE_MINUTES:-5}"
"$torch_python" models/train/export.py "$run" "$out" gate
cp "$data/sources.tsv" models/report/training-data.tsv
cp "$out/comic_gate.f32.onnx" models/
"$venv_python" models/train/manifest.py "$data" "$run" models --commit "$(git rev-parse HEAD)" --only comic_gate
cargo build --release --locked --quiet   # now with the new gate inside
# The gate on the packages reserved for evaluation (apt-get download, unpacked in
# target/heldout-eval/; never installed, never trained on), as comicbooth stylize decides.
"$torch_python" models/train/eval_gate.py "$data" models/comic_gate.f32.onnx --out "$run/gate-eval.json"
# tract's latency of both forms on this machine (release build, 2 threads, 256x256).
for form in f32 int8; do
  target/release/comicbooth bench -n 20 --model "models/comic_generator.$form.onnx" \
    --gate models/comic_gate.f32.onnx 2>/dev/null
done > models/report/tract-latency.txt
"$venv_python" models/train/report.py "$data" "$run" models models/report
echo "models written to models/, report to models/report/; rebuild the golden tensors:"
echo "  .venv/bin/python tests/golden/make_golden.py"
