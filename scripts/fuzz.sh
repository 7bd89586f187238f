#!/usr/bin/env bash
# Builds graft's libFuzzer targets (fuzz/: clang 14, AddressSanitizer + UndefinedBehaviorSanitizer) in
# build-fuzz and runs each for SECONDS (default 30) from its seeds in fuzz/corpus/TARGET; new inputs collect in
# build-fuzz/corpus/TARGET, and an input that crashes is kept as build-fuzz/crashes/TARGET-*. A graft::Error is
# the expected answer to bad input; anything else (another exception, a sanitizer report, a 10 s input, more
# than 2 GB) is a crash. Prints one line per target and exits 1 when any target crashed.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]
#   (targets: safetensors config tokenizer_files tokenize datasets serve_requests)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors config tokenizer_files tokenize datasets serve_requests)
fuzzers=()
for target in "${targets[@]}"; do fuzzers+=("${target}_fuzzer"); done
CC=clang-14 CXX=clang++-14 GRAFT_TARGETS="${fuzzers[*]}" scripts/build.sh build-fuzz -DGRAFT_SANITIZE=fuzz \
  -DGRAFT_BUILD_TESTS=OFF -DGRAFT_BUILD_BENCH=OFF
mkdir -p build-fuzz/crashes
crashed=0
for target in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$target"
  log="build-fuzz/$target.log"
  status=0
  OMP_NUM_THREADS=1 "build-fuzz/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$target-" \
    "build-fuzz/corpus/$target" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ "$status" -ne 0 ]; then
    crashed=1
    echo "fuzz $target: CRASH after $runs executions (exit $status); the input is in build-fuzz/crashes/:"
    grep -m1 -E 'ERROR|terminate|deadly|timeout|out-of-memory' "$log" || tail -5 "$log"
  else
    echo "fuzz $target: $runs executions in $seconds s, no crash"
  fi
done
exit $crashed
