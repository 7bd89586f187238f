#!/usr/bin/env bash
# Round trips with Hugging Face transformers, both ways (tests/hf_roundtrip.py). Needs the reference
# environment that `scripts/install-deps.sh --reference` makes (.venv-reference), or GRAFT_REFERENCE_PYTHON
# naming a Python with transformers and torch; exits 77 (skipped) without one.
# Usage: hf_roundtrip_test.sh GRAFT_CLI REPO_DIR WORK_DIR
set -uo pipefail
graft=$1
repo=$2
work=$3
python=${GRAFT_REFERENCE_PYTHON:-$repo/.venv-reference/bin/python}
if [[ ! -x "$python" ]] || ! "$python" -c "import torch, transformers" 2>/dev/null; then
  echo "skipped: no Python with transformers and torch at $python (scripts/install-deps.sh --reference makes one)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$python" "$repo/tests/hf_roundtrip.py" "$graft" "$repo" "$work" 2>&1 | grep -v -e "Loading weights" -e "Writing model shards"
exit "${PIPESTATUS[0]}"
