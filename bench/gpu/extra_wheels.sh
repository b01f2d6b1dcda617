#!/usr/bin/env bash
# Download bench/gpu/extra_wheels.txt's py3.12 wheels into .whl/ at the project root (ignored: add
# `/.whl/` to .git/info/exclude), to carry with the last remote call of bench/gpu/run_replicas.sh.
# Run from the project root on a machine that reaches a package index.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_5_x86_64 --platform any -d .whl -r "$HERE/extra_wheels.txt"
grep -qxF '/.whl/' "$(git rev-parse --git-path info/exclude)" || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
echo "$(ls .whl/*.whl | wc -l) wheels, $(du -sm .whl | cut -f1) MB in .whl/"
