#!/usr/bin/env bash
# Rebuilds models/distilbert-mini-uncased, the pretrained default that graft ships: a 4-layer DistilBERT
# (hidden 256, 4 heads, FFN 1024) with the bert-base-uncased vocabulary, pretrained with masked-LM on the
# public-domain corpus in ../shared/data/corpus (Moby-Dick, State of the Union addresses).
#
#   scripts/pretrain-mini.sh                  phase 1: 1,400 steps from random weights, linear decay (~1 h on
#                                             2 cores); RESUME=1 continues an interrupted run
#   PHASE=2 STEPS=N scripts/pretrain-mini.sh  phase 2: continue from the shipped model up to step N with the
#                                             schedule SCHEDULER (default linear); it always resumes its newest
#                                             checkpoint, so a long run can be spread over several sessions.
#                                             The shipped model's phase 2 ran steps 1-400 with
#                                             SCHEDULER=constant_with_warmup STEPS=400, then linear to STEPS=2600,
#                                             then linear to STEPS=5400 (its card has the details).
#
# Checkpoints stay in out/pretrain; the final folder, stored in fp16, replaces models/distilbert-mini-uncased.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
common=(--corpus "$shared/data/corpus/moby_dick.txt" "$shared/data/corpus/sotu.txt" --name distilbert-mini-uncased
  --block-size 128 --batch-size 32 --lr 1e-3 --warmup-steps 100 --weight-decay 0.01 --validation-split 0.01
  --eval-steps 200 --logging-steps 20 --seed 42 --save-dtype float16 --no-progress)

if [ "${PHASE:-1}" = 2 ]; then
  work=out/pretrain/continued
  build/graft pretrain --model models/distilbert-mini-uncased --output "$work" --max-steps "${STEPS:?STEPS=N}" \
    --scheduler "${SCHEDULER:-linear}" --resume "${common[@]}"
else
  work=out/pretrain/distilbert-mini-uncased
  resume=()
  [ "${RESUME:-0}" = 1 ] && resume=(--resume)
  build/graft pretrain --config models/recipes/distilbert-mini-uncased.json --tokenizer "$shared/golden/tokenizer" \
    --output "$work" --max-steps "${STEPS:-1400}" --scheduler linear "${common[@]}" "${resume[@]}"
fi

target=models/distilbert-mini-uncased
rm -rf "$target.new"
mkdir -p "$target.new"
for file in config.json model.safetensors README.md training_args.json trainer_state.json tokenizer.json \
  tokenizer_config.json special_tokens_map.json vocab.txt; do
  cp "$work/$file" "$target.new/"
done
rm -rf "$target"
mv "$target.new" "$target"
echo "Wrote $target"
