#!/usr/bin/env bash
# Install, fetch the default models, and run the README's tour in a throw-away data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/honcho model pull
export HONCHO_DATA_DIR=${HONCHO_DATA_DIR:-$(mktemp -d)/honcho}
export PATH="$PWD/.venv/bin:$PATH"
echo "data dir: $HONCHO_DATA_DIR"
fixtures/seed-scenario.sh
step() { printf '\n$ honcho %s\n' "$*"; honcho "$@"; }
step deriver run
step representation alice --target bob
step representation alice --target charlie
step representation charlie
step representation alice
step chat alice "What did Bob say about breakfast?" --target bob
step message search breakfast --limit 3
