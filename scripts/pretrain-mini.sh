#!/usr/bin/env bash
# Rebuilds models/distilbert-mini-uncased, the pretrained default that graft ships: a 4-layer DistilBERT
# (hidden 256, 4 heads, FFN 1024) with the bert-base-uncased vocabulary, pretrained with masked-LM on the
# public-domain corpus in ../shared/data/corpus (Moby-Dick, State of the Union addresses).
# About an hour on 2 cores. Checkpoints go to out/pretrain (resume with RESUME=1); the final folder,
# stored in fp16, replaces models/distilbert-mini-uncased.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
steps=${STEPS:-1400}
work=out/pretrain/distilbert-mini-uncased
resume=()
[ "${RESUME:-0}" = 1 ] && resume=(--resume)

build/graft pretrain --config models/recipes/distilbert-mini-uncased.json --tokenizer "$shared/golden/tokenizer" \
  --corpus "$shared/data/corpus/moby_dick.txt" "$shared/data/corpus/sotu.txt" --output "$work" \
  --name distilbert-mini-uncased --block-size 128 --batch-size 32 --max-steps "$steps" --lr 1e-3 \
  --warmup-steps 100 --weight-decay 0.01 --scheduler linear --validation-split 0.01 --eval-steps 200 \
  --logging-steps 20 --seed 42 --save-dtype float16 --no-progress "${resume[@]}"

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
