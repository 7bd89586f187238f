#!/usr/bin/env bash
# The main job on what the repo carries: the seed's transfer-learning workflow with the embedded model
# (tests/fixtures/tiny-distilbert, a tiny randomly initialised DistilBERT: the mechanics, not accuracy)
# and a small hand-written data set. Outputs land in out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
graft=build/graft
model=tests/fixtures/tiny-distilbert
data=examples/data/tiny_sentiment.csv
out=out/demo
rm -rf "$out"

echo "== Tokenize"
$graft tokenize --model "$model" --json "Profit rose sharply this quarter."

echo "== Parameters with the base frozen"
$graft params --model "$model" --freeze distilbert --depth 2

echo "== Train: new head with the base frozen, then everything at a low learning rate"
$graft train --model "$model" --train "$data" --validation-split 0.3 --output "$out" \
  --batch-size 8 --seed 1 --no-progress \
  --stage "freeze=distilbert,epochs=3,lr=1e-3" --stage "freeze=none,epochs=2,lr=2e-4"

echo "== Evaluate"
$graft evaluate --model "$out" --data "$data"

echo "== Predict"
$graft predict --model "$out" --top-k 2 "Profit rose sharply" "The meeting is on Monday"

if [ -d ../shared/golden ]; then
  echo "== Hugging Face checkpoint from ../shared/golden"
  $graft predict --model ../shared/golden/distilbert_seqcls/checkpoint --top-k 3 \
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007."
fi
echo
echo "Done. The fine-tuned model, tokenizer, model card (README.md) and logs are in $out/"
