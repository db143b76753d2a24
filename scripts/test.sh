#!/usr/bin/env bash
# Install everything, fetch the test-size models (cached after the first time), run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/honcho model pull smollm2-135m
.venv/bin/honcho model pull minilm-l6-v2
.venv/bin/python -m pytest -q "$@"
