#!/usr/bin/env bash
# The binaries this build made, run on CPUs other than this one, emulated by QEMU (qemu-x86_64 translates
# every instruction, so one the emulated CPU lacks is a SIGILL, as on real hardware):
# - an AVX2-only CPU (QEMU's "max" model without AVX-512): graft runs, chooses its avx2 kernels, the kernel
#   tests pass, and a model predicts what it predicts here;
# - an x86-64-v2 CPU (Nehalem, no AVX): the loader refuses graft with a message, not a crash.
# Exits 77 (skipped) without qemu-x86_64, with a QEMU that emulates no AVX2, or for a build that is not
# portable or not marked as needing x86-64-v3 (GRAFT_CPU=native; a compiler without -mneeded).
# Usage: portable_binary_test.sh GRAFT_CLI KERNEL_ISA_TEST MODEL_DIR
set -uo pipefail
graft=$1
kernel_isa_test=$2
model=$3
skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
command -v qemu-x86_64 >/dev/null || skip "qemu-x86_64 not found (scripts/install-deps.sh installs qemu-user)"
version=$("$graft" --version) || fail "graft --version failed here"
grep -q "GRAFT_CPU=portable" <<<"$version" || skip "not a portable build: $version"
readelf -n "$graft" | grep -q "x86 ISA needed:.*x86-64-v3" || skip "$graft is not marked as needing x86-64-v3"
avx2_only=(qemu-x86_64 -cpu max,-avx512f)

emulated=$("${avx2_only[@]}" "$graft" --version 2>&1)
status=$?
grep -q "CPU ISA level is lower than required" <<<"$emulated" && skip "this QEMU emulates no AVX2: $emulated"
[[ $status == 0 ]] || fail "graft --version on an AVX2-only CPU: $emulated"
echo "AVX2-only CPU: $emulated"
grep -q "avx512f" <<<"$emulated" && fail "the emulated CPU reports AVX-512"
grep -q "avx2 fma" <<<"$emulated" || fail "the emulated CPU lacks AVX2 or FMA: $emulated"
grep -q "graft kernels: avx2" <<<"$emulated" || fail "the avx2 kernels were not chosen: $emulated"

kernels=$("${avx2_only[@]}" "$kernel_isa_test" 2>&1) || fail "kernel_isa_test on an AVX2-only CPU: $kernels"
grep -q "graft kernels: avx2" <<<"$kernels" || fail "kernel_isa_test did not run the avx2 kernels: $kernels"
echo "kernel_isa_test on the AVX2-only CPU: $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' <<<"$kernels" | tr -s ' \n' '  ')"

# The whole path (tokenizer, model, pipeline, the kernels through kernels.h): the same labels as here, and
# scores equal to the printed 4 decimals but for the GEMMs' order of sums (AVX2 and AVX-512 kernels).
texts=("a fine day" "the worst film")
here=$("$graft" predict --model "$model" "${texts[@]}") || fail "graft predict here"
there=$("${avx2_only[@]}" "$graft" predict --model "$model" "${texts[@]}" 2>&1) ||
  fail "graft predict on an AVX2-only CPU: $there"
[[ $(cut -f1 <<<"$here") == $(cut -f1 <<<"$there") ]] || fail "predicted labels differ: here $here, there $there"
paste <(cut -f2 <<<"$here") <(cut -f2 <<<"$there") |
  awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 2e-4) bad = 1 } END { exit bad }' ||
  fail "scores differ by more than 2e-4: here $here, there $there"
echo "graft predict on the AVX2-only CPU: $(tr '\t\n' ' ;' <<<"$there")"

refused=$(qemu-x86_64 -cpu Nehalem "$graft" --version 2>&1)
status=$?
[[ $status != 0 ]] && grep -q "CPU ISA level is lower than required" <<<"$refused" ||
  fail "on an x86-64-v2 CPU graft was not refused by the loader (status $status): $refused"
echo "x86-64-v2 CPU: refused ($(grep -m1 "ISA level" <<<"$refused"))"
