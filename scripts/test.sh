#!/usr/bin/env bash
# Runs the whole test suite (lint, unit, integration on real services, browser e2e).
# Installs what it needs: the venv with pinned requirements, and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/bin/chromium ] || ! command -v docker-compose >/dev/null; then
  echo "==> installing Debian's chromium (browser tests) and docker-compose (compose file check)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver docker-compose >/dev/null
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False FRONTDESK_REQUIRE_BROWSER=1
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
exec .venv/bin/pytest "$@"
