#!/usr/bin/env bash
# One command from a fresh clone: install the Debian packages, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
scripts/demo.sh
