#!/usr/bin/env bash
# Install, fetch the default models, and run the seed's scenario in a throw-away data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/honcho model pull
export HONCHO_DATA_DIR=${HONCHO_DATA_DIR:-$(mktemp -d)/honcho}
export PATH="$PWD/.venv/bin:$PATH"
echo "data dir: $HONCHO_DATA_DIR"
fixtures/seed-scenario.sh
set -x
honcho session peers game-session
honcho message search breakfast
