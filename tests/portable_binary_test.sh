#!/usr/bin/env bash
# The binaries this build made, run on CPUs other than this one, emulated by QEMU (qemu-x86_64 translates
# every instruction, so one the emulated CPU lacks is a SIGILL, as on real hardware):
# - an AVX2-only CPU (QEMU's "max" model: AVX2 and FMA, no AVX-512): graft runs, chooses its avx2 kernels,
#   and every kernel set gives the numbers it gives here (kernel_isa_test);
# - an x86-64-v2 CPU (Nehalem, no AVX): the loader refuses graft with a message, not a crash.
# Exits 77 (skipped) without qemu-x86_64 or for a GRAFT_CPU=native build, which is not meant to be carried.
# Usage: portable_binary_test.sh GRAFT_CLI KERNEL_ISA_TEST
set -uo pipefail
graft=$1
kernel_isa_test=$2
if ! command -v qemu-x86_64 >/dev/null; then
  echo "skipped: qemu-x86_64 not found (scripts/install-deps.sh installs qemu-user)"
  exit 77
fi
version=$("$graft" --version) || { echo "FAIL: graft --version failed here"; exit 1; }
if ! grep -q "GRAFT_CPU=portable" <<<"$version"; then
  echo "skipped: not a portable build: $version"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }

emulated=$(qemu-x86_64 -cpu max "$graft" --version 2>&1) || fail "graft --version on an AVX2-only CPU: $emulated"
echo "AVX2-only CPU: $emulated"
grep -q "avx512f" <<<"$emulated" && fail "QEMU's max CPU reports AVX-512; this test needs a CPU without it"
grep -q "avx2 fma" <<<"$emulated" || fail "QEMU's max CPU lacks AVX2 or FMA: $emulated"
grep -q "graft kernels: avx2" <<<"$emulated" || fail "the avx2 kernels were not chosen: $emulated"

kernels=$(qemu-x86_64 -cpu max "$kernel_isa_test" 2>&1) || fail "kernel_isa_test on an AVX2-only CPU: $kernels"
grep -q "graft kernels: avx2" <<<"$kernels" || fail "kernel_isa_test did not run the avx2 kernels: $kernels"
echo "kernel_isa_test on the AVX2-only CPU: $(grep -E '^\[  (PASSED|FAILED)' <<<"$kernels" | tr '\n' ' ')"

refused=$(qemu-x86_64 -cpu Nehalem "$graft" --version 2>&1)
status=$?
[[ $status != 0 ]] && grep -q "CPU ISA level is lower than required" <<<"$refused" ||
  fail "on an x86-64-v2 CPU graft was not refused by the loader (status $status): $refused"
echo "x86-64-v2 CPU: refused ($(grep -m1 "ISA level" <<<"$refused"))"
