#!/usr/bin/env bash
# The compiler guard refuses the compiler and flags known to miscompile, and accepts graft's: with a compiler
# that gets cmake/compiler_checks/avx512_slp_vector_copy.cpp wrong at -O2 -march=x86-64-v4 (GCC 12.2), the
# guard must stop the configuration with a message naming the check; with -fno-tree-slp-vectorize added
# (what CMakeLists.txt uses with GCC) it must pass. Exits 77 (skipped) where the miscompile cannot be shown:
# a CPU without AVX-512 to run the check, or a compiler that compiles it correctly.
# Usage: compiler_guard_test.sh CMAKE CXX_COMPILER WORK_DIR
set -uo pipefail
cmake=$1
cxx=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
check=$here/../../cmake/compiler_checks/avx512_slp_vector_copy.cpp
for flag in avx512f avx512bw avx512vl avx512dq avx512cd; do
  grep -qw "$flag" /proc/cpuinfo || { echo "skipped: this CPU lacks $flag to run the check on"; exit 77; }
done
mkdir -p "$work"
"$cxx" -std=c++20 -O2 -march=x86-64-v4 "$check" -o "$work/plain_check" || { echo "FAIL: the check does not compile"; exit 1; }
if "$work/plain_check" >/dev/null; then
  echo "skipped: $("$cxx" --version | head -1) compiles the check correctly at -O2 -march=x86-64-v4"
  exit 77
fi
configure() {  # FLAGS (;-separated) -> configure output; returns cmake's status
  rm -rf "$work/project"
  CXX=$cxx "$cmake" -S "$here/compiler_guard" -B "$work/project" -DCMAKE_BUILD_TYPE=Release -DGUARD_NEEDS=avx512 \
    "-DGUARD_FLAGS=$1" 2>&1
}
output=$(configure "-march=x86-64-v4")
status=$?
message=$(tr -s ' \n' '  ' <<<"$output")  # CMake folds long messages over lines
if [[ $status == 0 ]] || ! grep -q "miscompiles cmake/compiler_checks/avx512_slp_vector_copy.cpp" <<<"$message"; then
  echo "FAIL: the guard accepted -march=x86-64-v4, which miscompiles the check (status $status):"
  echo "$output"
  exit 1
fi
echo "refused, as it must be: $(grep -o "graft: .*(expected 1 1 1 0)" <<<"$message")"
output=$(configure "-march=x86-64-v4;-fno-tree-slp-vectorize")
status=$?
if [[ $status != 0 ]]; then
  echo "FAIL: the guard refused graft's own AVX-512 flags (status $status):"
  echo "$output"
  exit 1
fi
echo "accepted -march=x86-64-v4 -fno-tree-slp-vectorize"
