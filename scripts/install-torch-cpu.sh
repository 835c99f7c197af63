#!/usr/bin/env bash
# Install the CPU build of PyTorch (an optional test oracle) into the given interpreter's environment,
# but never the CUDA build: if resolving torch==2.13.0 here would pull nvidia-* packages (several GB),
# skip it and say how to get the CPU build. Tests that need torch then skip with that reason, except in
# CI (CI set), where the torch oracle must run: there this script fails instead.
set -eu
PY=${1:-python3}
SPEC=${TORCH_SPEC:-torch==2.13.0}
if "$PY" -c "import torch" 2>/dev/null; then exit 0; fi
report=$(mktemp)
trap 'rm -f "$report"' EXIT
if ! "$PY" -m pip install --quiet --dry-run --report "$report" "$SPEC" >/dev/null 2>&1; then
  echo "PyTorch ($SPEC) is not available here: the PyTorch comparison tests will skip." >&2
  [ -z "${CI:-}" ] || exit 1
  exit 0
fi
if grep -q '"name": "nvidia-' "$report"; then
  echo "Only a CUDA build of PyTorch resolves here; not installing it. For the PyTorch oracle tests:" >&2
  echo "  $PY -m pip install torch --index-url https://download.pytorch.org/whl/cpu" >&2
  [ -z "${CI:-}" ] || exit 1
  exit 0
fi
"$PY" -m pip install --quiet "$SPEC"
