#!/usr/bin/env bash
# The whole model recipe: gather data, train the generator (GAN) and the gate, export to
# ONNX, quantize to int8, write the report and the manifests.
#
#   models/train/make_models.sh            full run (about 105 minutes on 2 cores), results into
#                                          models/ and models/report/
#   models/train/make_models.sh --smoke OUT  a few steps on a few pictures into OUT (CI checks
#                                          that the recipe runs end to end; tract then loads
#                                          and runs the result: see scripts/test)
#
# Work files (data, checkpoints) go to target/train/ (or OUT for --smoke); a stopped full run
# resumes from its checkpoints when started again. GEN_MINUTES and GATE_MINUTES change the
# training time budgets (defaults 95 and 5, what the shipped models had).
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
  "$torch_python" models/train/gather.py "$data" --photos 3 --gate-photos 1 --cartoons 30
  "$torch_python" models/train/train.py generator "$data" "$run" --minutes 5 --steps 3
  "$torch_python" models/train/train.py gate "$data" "$run" --minutes 5 --views 40
  "$torch_python" models/train/export.py "$run" "$out"
  "$venv_python" models/train/quantize.py "$data" "$out"
  "$venv_python" models/train/manifest.py "$data" "$run" "$out" --commit "$(git rev-parse HEAD)"
  echo "smoke models in $out"
  exit 0
fi

data=target/train/data run=target/train/run out=target/train/out
[ -f "$data/sources.tsv" ] || "$torch_python" models/train/gather.py "$data"
"$torch_python" models/train/train.py generator "$data" "$run" --minutes "${GEN_MINUTES:-95}"
"$torch_python" models/train/train.py gate "$data" "$run" --minutes "${GATE_MINUTES:-5}"
"$torch_python" models/train/export.py "$run" "$out"
"$venv_python" models/train/quantize.py "$data" "$out"
cp "$data/sources.tsv" models/report/training-data.tsv
cp "$out/comic_generator.f32.onnx" "$out/comic_generator.int8.onnx" "$out/comic_gate.f32.onnx" models/
"$venv_python" models/train/manifest.py "$data" "$run" models --commit "$(git rev-parse HEAD)"
# tract's latency of both forms on this machine (release build, 2 threads, 256x256).
cargo build --release --locked --quiet
for form in f32 int8; do
  target/release/comicbooth bench -n 20 --model "models/comic_generator.$form.onnx" \
    --gate models/comic_gate.f32.onnx 2>/dev/null
done > models/report/tract-latency.txt
"$venv_python" models/train/report.py "$data" "$run" models models/report
echo "models written to models/, report to models/report/; rebuild the golden tensors:"
echo "  .venv/bin/python tests/golden/make_golden.py"
