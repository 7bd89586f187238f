#!/usr/bin/env bash
# Runs a Python script of the test suite that needs Hugging Face itself (transformers, torch): with the
# reference environment that `scripts/install-deps.sh --reference` makes (.venv-reference), or the Python that
# GRAFT_REFERENCE_PYTHON names; exits 77 (skipped) without one. Progress bars are left out of the output.
# Usage: run_with_reference_python.sh REPO_DIR SCRIPT [ARGS...]
set -uo pipefail
repo=$1
shift
python=${GRAFT_REFERENCE_PYTHON:-$repo/.venv-reference/bin/python}
if [[ ! -x "$python" ]] || ! "$python" -c "import torch, transformers" 2>/dev/null; then
  echo "skipped: no Python with transformers and torch at $python (scripts/install-deps.sh --reference makes one)"
  exit 77
fi
"$python" "$@" 2>&1 | grep -v -e "Loading weights" -e "Writing model shards"
exit "${PIPESTATUS[0]}"
