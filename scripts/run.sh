#!/usr/bin/env bash
# Starts Frontdesk on embedded defaults (SQLite, embedded Chroma, the bundled SmolLM2 GGUF) at http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv/bin/python app.py "$@"
