#!/usr/bin/env bash
# Configures and builds graft. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# GRAFT_TARGETS="graft_cli" builds only those targets (default: everything, tests and benchmarks included).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
ninja -C "$build_dir" ${GRAFT_TARGETS:-}
