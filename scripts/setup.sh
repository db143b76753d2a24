#!/usr/bin/env bash
# Create .venv and install honcho with its test tools. llama-cpp-python has no wheel
# for this platform on PyPI, so it is compiled once (3-4 minutes on 2 cores) into a
# wheel kept under $HONCHO_BUILD_CACHE and reused by every later install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
WHEELS=${HONCHO_BUILD_CACHE:-$HOME/.cache/honcho-build}/wheels
mkdir -p "$WHEELS"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check --quiet)

if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_VERSION once (a few minutes)..." >&2
  # portable CPU build: no -march=native, so the wheel runs on any x86-64 with AVX2
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    "${PIP[@]}" wheel --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi

"${PIP[@]}" install --find-links "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
"${PIP[@]}" install --find-links "$WHEELS" -e ".[test]"
echo "installed: $(.venv/bin/honcho --version 2>/dev/null || echo honcho) in .venv" >&2
