#!/usr/bin/env bash
# One command from a fresh clone: install the Debian packages, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
GRAFT_TARGETS=graft_cli scripts/build.sh build  # the tests build with scripts/test.sh
scripts/demo.sh
