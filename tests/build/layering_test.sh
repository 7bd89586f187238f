#!/usr/bin/env bash
# The layers' include views (CMakeLists.txt, graft_layer) let a layer include its own headers and those below
# it, and nothing above: each probe below is compiled against a layer's view as that layer's sources are, and
# must build when it includes what the layer may see and fail with "No such file" (GCC; clang: "file not found") when it reaches upward.
# Usage: layering_test.sh CXX_COMPILER LAYER_VIEWS_DIR WORK_DIR
set -uo pipefail
cxx=$1
views=$2
work=$3
mkdir -p "$work"
failures=0
probe() {  # EXPECT(builds|refused) LAYER HEADER
  local expect=$1 layer=$2 header=$3 output status
  printf '#include "%s"\n' "$header" >"$work/probe.cpp"
  output=$("$cxx" -std=c++20 -fsyntax-only -fopenmp -I "$views/$layer/include" -I "$views/$layer/src" \
    "$work/probe.cpp" 2>&1)
  status=$?
  if [[ $expect == builds && $status -ne 0 ]]; then
    echo "FAIL: $layer cannot include $header:"; echo "$output" | head -5; failures=$((failures + 1))
  elif [[ $expect == refused && ( $status -eq 0 || ( $output != *"No such file"* && $output != *"file not found"* ) ) ]]; then
    echo "FAIL: $layer includes $header, a layer above it"; failures=$((failures + 1))
  else
    echo "ok: $layer $expect $header"
  fi
}
probe builds core graft/core/tensor.h
probe refused core graft/kernels/kernels.h
probe refused io graft/models/model.h
probe refused io graft/tokenizer/tokenizer.h
probe builds tokenizer graft/tokenizer/tokenizer.h
probe refused tokenizer graft/io/safetensors.h
probe builds data graft/data/batch_source.h
probe refused data graft/models/encoder.h
probe refused data graft/io/safetensors.h
probe refused data graft/train/trainer.h
probe builds models graft/models/model.h
probe refused models graft/train/trainer.h
probe refused models graft/pipelines/pipeline.h
probe builds pipelines graft/pipelines/text_classification.h
probe refused pipelines graft/train/trainer.h
probe refused pipelines graft/serve/server.h
probe builds serve graft/serve/server.h
probe refused serve graft/train/trainer.h
probe builds train graft/train/trainer.h
probe builds train graft/distributed/communicator.h
probe builds distributed graft/distributed/communicator.h
probe refused distributed graft/models/model.h
probe refused distributed graft/train/training_step.h
probe refused models graft/distributed/communicator.h
probe refused train graft/pipelines/pipeline.h
probe refused models io/hub_internal.h
# A family is told apart from the others in its own file and the registry (models/family.h), nowhere else.
if named=$(grep -RnE '[!=]= *"(distil)?bert"' "$views"/*/src/ "$views"/*/include/); then
  echo "FAIL: a model family recognised by name outside its file:"; echo "$named"; failures=$((failures + 1))
else
  echo "ok: no model family recognised by name outside models/family.h"
fi
exit $((failures > 0))
