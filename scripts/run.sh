#!/usr/bin/env bash
# Install ConvScope into ./.venv (if needed) and start it on the shipped model: http://127.0.0.1:8000
# Extra arguments go to `convscope serve` (e.g. --port 9000, --host 0.0.0.0 --workers 4).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/convscope serve "$@"
