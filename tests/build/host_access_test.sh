#!/usr/bin/env bash
# Above the ops layer (models, train, pipelines), nothing reads a tensor's memory or calls a kernel directly:
# every data<T>() / raw_data() / kernels:: there is on a line marked "host-only" (or under a comment line so
# marked), where the tensor is known to be on the CPU (made there, or copied there). The checked device enforces
# the same at run time (tests/unit/device_test.cpp); this finds what no test runs. Usage: host_access_test.sh REPO
set -euo pipefail
repo=$1
cd "$repo"
unmarked=$(grep -rn -B1 -E 'data<|raw_data\(|kernels::' src/models src/train src/pipelines include/graft/models \
             include/graft/train include/graft/pipelines |
           awk '/^[^:]+-[0-9]+-/ { previous = $0; next }
                /^--$/ { previous = ""; next }
                { if ($0 !~ /host-only/ && previous !~ /host-only/) print; previous = "" }')
if [[ -n "$unmarked" ]]; then
  echo "host access above the ops layer, not marked host-only (use graft::ops, or copy to the CPU and say so):"
  echo "$unmarked"
  exit 1
fi
echo "no unmarked host access above the ops layer"
