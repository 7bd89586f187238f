#!/usr/bin/env bash
# The main job, on what the repository carries and with no network: the seed's transfer-learning workflow
# with the embedded pretrained model (models/distilbert-mini-uncased, graft's own masked-LM pretraining)
# on a CC0 spam/ham data set (examples/data/spamassassin). A few minutes on 2 cores; outputs in out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
graft=build/graft
model=models/distilbert-mini-uncased
data=examples/data/spamassassin
out=out/demo
rm -rf "$out"
started=$SECONDS

echo "== The pretrained base fills in masked words"
$graft fill-mask --model "$model" --top-k 3 "the whale swam in the [MASK]." "the president spoke to [MASK]."

echo
echo "== Train: a new spam/ham head on the frozen base, then everything at a low learning rate"
$graft train --model "$model" --train "$data/train.jsonl" --validation-split 0.1 --output "$out" \
  --max-length 64 --batch-size 32 --seed 42 --no-progress \
  --stage "freeze=distilbert,epochs=1,lr=1e-3" --stage "freeze=none,epochs=1,lr=1e-4"

echo
echo "== Evaluate on the held-out test file ($data/test.jsonl)"
$graft evaluate --model "$out" --data "$data/test.jsonl" --max-length 64

echo
echo "== Predict through the text-classification pipeline"
$graft predict --model "$out" \
  "Congratulations! You have been selected to receive a FREE cash prize. Click here to claim it now." \
  "Hi Tom, the build is broken again after last night's commit; can you take a look before the meeting?"

echo
echo "Done in $((SECONDS - started)) s. In $out/: the fine-tuned model (config.json, model.safetensors),"
echo "its tokenizer, the model card README.md (data, hyper-parameters, results, limitations), log.jsonl,"
echo "training_args.json and trainer_state.json."
