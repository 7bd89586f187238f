#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU, in one call (sized for a few minutes), from the bundle
# scripts/device-bundle.sh made (.device/bundle.tar.xz): nvidia-smi; every op on CUDA against the CPU on odd shapes
# (cuda_ops_test); the golden parity tests with the models on cuda:0; `graft train` of the tiny DistilBERT with
# dropout on, on the CPU and on the GPU, compared parameter by parameter, and the GPU's folder loaded by
# transformers' from_pretrained, whose logits are compared with graft's. Results under $OUT (or ./device-out), a
# table printed last. Exit status: 0 when every check passed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
root=$(mktemp -d)
tar -C "$root" -xJf .device/bundle.tar.xz || { echo "device-check.sh: no .device/bundle.tar.xz (scripts/device-bundle.sh)"; exit 2; }
cuda_libraries=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
paths = ["/usr/local/cuda/lib64"] + [p for s in site.getsitepackages() for p in glob.glob(s + "/nvidia/*/lib")]
print(":".join(p for p in paths if os.path.isdir(p)))
PY
)
export LD_LIBRARY_PATH="$root/lib:$cuda_libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GRAFT_FIXTURES_DIR="$root/fixtures" GRAFT_GOLDEN_DIR="$root/golden" GRAFT_CLI_PATH="$root/bin/graft"
declare -a table
record() {  # name, status, detail
  table+=("$(printf '%-34s %-5s %s' "$1" "$2" "$3")")
}
run_check() {  # name, log file, command...
  local name=$1 log=$2
  shift 2
  if "$@" >"$out/$log" 2>&1; then record "$name" ok "$(tail -n 1 "$out/$log")"; else record "$name" FAIL "see $log"; fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/gpu.txt" 2>&1
record "GPU" "" "$(cat "$out/gpu.txt")"
"$root/bin/graft" --version >"$out/version.txt" 2>&1
run_check "ops, CUDA vs CPU" cuda_ops.log "$root/bin/cuda_ops_test" --gtest_brief=1
for test in model_parity_test trajectory_parity_test device_test concurrency_test; do
  run_check "$test on cuda:0" "$test.log" env GRAFT_TEST_DEVICE=cuda "$root/bin/$test" --gtest_brief=1 \
    --gtest_filter='*Golden*:Device.*:Concurrency.*'
done

# One fine-tuning run per device with dropout on, from the same seed: the same masks (core/random.h on both), so
# the parameters differ only by the order of sums.
data="$root/train.csv"
{
  echo "label,sentence"
  for i in $(seq 0 23); do echo "$((i % 3)),the quick brown fox $i jumps over the lazy dog"; done
} >"$data"
train() {  # device, output
  "$root/bin/graft" train --model "$root/fixtures/tiny-distilbert" --train "$data" --batch-size 4 --epochs 2 \
    --seed 3 --device "$1" --output "$2"
}
if train cpu "$root/on-cpu" >"$out/train_cpu.log" 2>&1 && train cuda "$root/on-cuda" >"$out/train_cuda.log" 2>&1; then
  run_check "train CPU vs GPU, from_pretrained" roundtrip.log python3 tests/device_roundtrip.py "$root/bin/graft" \
    "$root/on-cpu" "$root/on-cuda" cuda
else
  record "train CPU vs GPU" FAIL "see train_cpu.log, train_cuda.log"
fi

printf '%s\n' "${table[@]}" | tee "$out/summary.txt"
! grep -q ' FAIL ' "$out/summary.txt"
