#!/usr/bin/env bash
# bench/bf16_accuracy.sh: does bf16 mixed precision (graft train --bf16) cost accuracy? Trains the same
# two-stage recipe as results/README.md on Financial PhraseBank in fp32 and in bf16, at several seeds, and
# prints each test accuracy and the mean difference (issue 5 asks for it within 1 point).
#
#   bench/bf16_accuracy.sh [--seeds "42 43 44"] [--model DIR] [--out DIR]
#
# On a CPU without AVX512-BF16 or AMX the bf16 runs emulate the rounding and take longer than fp32; their
# accuracy is what the same run gets where the CPU multiplies bf16 itself (the same rounding, other sum order).
set -euo pipefail

cd "$(dirname "$0")/.."
GRAFT=${GRAFT:-build/graft}
DATA=${DATA:-../shared/data/financial_phrasebank}
seeds="42 43 44"
model=models/distilbert-mini-uncased
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds=$2; shift ;;
    --model) model=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bf16_accuracy.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$GRAFT" ]] || { echo "bf16_accuracy.sh: no $GRAFT (build graft_cli first, or set GRAFT=path)" >&2; exit 1; }
[[ -f "$DATA/train.csv" ]] || { echo "bf16_accuracy.sh: no $DATA/train.csv (set DATA=folder)" >&2; exit 1; }
[[ -n "$out" ]] || out=$(mktemp -d /tmp/graft-bf16.XXXXXX)
mkdir -p "$out"

accuracy() {  # seed, precision flag (empty or --bf16)
  local run="$out/seed$1${2:+-bf16}"
  "$GRAFT" train --model "$model" --train "$DATA/train.csv" --output "$run" --max-length 64 --batch-size 32 \
    --seed "$1" --eval-strategy no --no-progress --stage "freeze=distilbert,epochs=1,lr=1e-3" \
    --stage "freeze=none,epochs=2,lr=1e-4" $2 > "$run.log" 2>&1
  "$GRAFT" evaluate --model "$run" --data "$DATA/test.csv" --max-length 64 --json | tail -n 1 |
    sed -E 's/.*"accuracy":([0-9.eE+-]+).*/\1/'
}

printf '%-6s %10s %10s %10s\n' seed fp32 bf16 points
total=0
count=0
for seed in $seeds; do
  fp32=$(accuracy "$seed" "")
  bf16=$(accuracy "$seed" --bf16)
  points=$(awk -v a="$bf16" -v b="$fp32" 'BEGIN { printf "%+.1f", 100 * (a - b) }')
  printf '%-6s %10.4f %10.4f %10s\n' "$seed" "$fp32" "$bf16" "$points"
  total=$(awk -v t="$total" -v p="$points" 'BEGIN { print t + p }')
  count=$((count + 1))
done
awk -v t="$total" -v n="$count" 'BEGIN { printf "MEAN bf16 - fp32 accuracy: %+.2f points over %d seeds\n", t / n, n }'
