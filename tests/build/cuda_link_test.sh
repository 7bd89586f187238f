#!/usr/bin/env bash
# A binary of a CUDA build needs libcudart and libcublasLt, and not libcuda (the driver, absent without a GPU).
set -euo pipefail
needed=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
grep -q '^libcudart\.so' <<<"$needed" || { echo "$1 does not link libcudart: $needed"; exit 1; }
grep -q '^libcublasLt\.so' <<<"$needed" || { echo "$1 does not link libcublasLt: $needed"; exit 1; }
if grep -q '^libcuda\.so' <<<"$needed"; then echo "$1 links the driver (libcuda) directly"; exit 1; fi
echo "$1 links $(grep -E '^libcu' <<<"$needed" | tr '\n' ' ')and not the driver"
