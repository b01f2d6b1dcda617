#!/usr/bin/env bash
# Creates .venv (reused when present) and installs the pinned requirements; quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing pinned requirements (first time: llama-cpp-python compiles, ~6 min on 2 cores)"
  .venv/bin/pip install --upgrade pip >/dev/null
  # torch first and alone: pinned to the CPU build, so nothing pulls a multi-GB CUDA build.
  .venv/bin/pip install torch==2.13.0
  .venv/bin/pip install -r requirements.txt
  echo "$want" > "$stamp"
fi
