#!/usr/bin/env bash
# The compiler guard refuses the compiler and flags known to miscompile, and accepts graft's: GCC 12 with
# AVX-512 and its SLP vectorizer on must fail configuring, with the message naming the check; the same
# with -fno-tree-slp-vectorize (what CMakeLists.txt uses) must pass. Exits 77 (skipped) where that
# miscompile cannot be shown: another compiler, or a CPU without AVX-512 to run the check.
# Usage: compiler_guard_test.sh CXX_COMPILER WORK_DIR
set -uo pipefail
cxx=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
version=$("$cxx" -dumpfullversion 2>/dev/null)
if ! "$cxx" --version | grep -q "Free Software Foundation" || [[ ${version%%.*} != 12 ]]; then
  echo "skipped: the known miscompile is GCC 12's; this compiler is $("$cxx" --version | head -1)"
  exit 77
fi
if ! grep -qw avx512f /proc/cpuinfo; then
  echo "skipped: this CPU has no AVX-512 to run the check on"
  exit 77
fi
configure() {  # FLAGS (;-separated) -> configure output; returns cmake's status
  rm -rf "$work"
  CXX=$cxx cmake -S "$here/compiler_guard" -B "$work" -DCMAKE_BUILD_TYPE=Release -DGUARD_NEEDS=avx512 \
    "-DGUARD_FLAGS=$1" 2>&1
}
output=$(configure "-march=x86-64-v4")
status=$?
message=$(tr -s ' \n' '  ' <<<"$output")  # CMake folds long messages over lines
if [[ $status == 0 ]] || ! grep -q "miscompiles cmake/compiler_checks/avx512_slp_vector_copy.cpp" <<<"$message"; then
  echo "FAIL: the guard accepted GCC $version with -march=x86-64-v4 (status $status):"
  echo "$output"
  exit 1
fi
echo "refused, as it must be: $(grep -o "graft: GNU.*(expected 1 1 1 0)" <<<"$message")"
output=$(configure "-march=x86-64-v4;-fno-tree-slp-vectorize")
status=$?
if [[ $status != 0 ]]; then
  echo "FAIL: the guard refused graft's own AVX-512 flags (status $status):"
  echo "$output"
  exit 1
fi
echo "accepted -march=x86-64-v4 -fno-tree-slp-vectorize"
