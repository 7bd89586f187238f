#!/usr/bin/env bash
# Prepares what scripts/device-check.sh runs on a GPU machine, which has CUDA, PyTorch and transformers but none
# of graft's Debian libraries: a CUDA build (build-cuda), and .device/bundle.tar.xz holding its CLI and the test
# binaries that run on a CUDA device, the shared libraries they load besides glibc and CUDA's own (which the GPU
# machine has), the repo's fixtures and ../shared/golden. Then, on the device tool: carry .device and run
# scripts/device-check.sh. Usage: scripts/device-bundle.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-cuda}
tests=(cuda_ops_test model_parity_test trajectory_parity_test device_test concurrency_test)
GRAFT_TARGETS="graft_cli ${tests[*]}" scripts/build.sh "$build_dir" -DGRAFT_CUDA=ON
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
binaries=("$build_dir/graft")
for test in "${tests[@]}"; do
  binaries+=("$build_dir/tests/$test")
done
for binary in "${binaries[@]}"; do
  strip -o "$stage/bin/$(basename "$binary")" "$binary"
  # Every library the loader resolves, but glibc's (the GPU machine's is newer and compatible) and CUDA's.
  ldd "$binary" | awk '/=> \// {print $3}' |
    grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so|/libcu(da|dart|blas|blasLt)\.so' |
    while read -r library; do cp -nL "$library" "$stage/lib/"; done
done
cp -r tests/fixtures "$stage/fixtures"
if [[ -d ../shared/golden ]]; then
  cp -r ../shared/golden "$stage/golden"
else
  echo "device-bundle.sh: ../shared/golden not found; the parity tests will skip on the device" >&2
fi
mkdir -p .device
tar -C "$stage" -cf - . | xz -T0 -6 >.device/bundle.tar.xz.new
mv .device/bundle.tar.xz.new .device/bundle.tar.xz
echo "device-bundle.sh: .device/bundle.tar.xz ($(du -h .device/bundle.tar.xz | cut -f1)); carry .device to run scripts/device-check.sh"
