#!/usr/bin/env bash
# Installs what the training recipe needs, all from Debian bookworm (no model hub, no CUDA):
# PyTorch (CPU build), numpy, Pillow and scikit-learn for Debian's python3, and the packages
# whose pictures are the training data (gather.py lists every file with its licence). The
# export, quantize and report steps run in the repository's .venv (models/requirements.txt,
# scripts/setup-dev). The packages reserved for evaluation (opencv-doc, mate-backgrounds,
# plasma-workspace-wallpapers) are not installed: eval_gate.py fetches them with
# `apt-get download` and unpacks them under target/heldout-eval/.
set -euo pipefail
packages=(
  python3-torch        # 1.13.1+dfsg-4 (bookworm)
  python3-numpy        # 1:1.24.2-1
  python3-pil          # 9.4.0-1.1
  python3-skimage      # 0.19.3: photos in skimage/data (public domain, CC0)
  python3-sklearn      # 1.2.1: the gate's logistic regression; its sample images china.jpg and
                       # flower.jpg are reserved for evaluation (eval_gate.py), never trained on
  python3-scipy        # 1.10.1 (python3-sklearn needs it too): its face and ascent are reserved
                       # for evaluation (eval_gate.py), never trained on
  lomiri-wallpapers    # photos (CC-BY-4.0, CC0-1.0)
  openclipart-png      # clip art (public domain): the comic class
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
