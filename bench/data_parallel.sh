#!/usr/bin/env bash
# bench/data_parallel.sh: one process with all the cores against --nproc N ranks sharing them, on the same
# fine-tuning run (distilbert-base shapes from `graft init`, Financial PhraseBank's train.csv, batch 32, dropout 0.1).
#
#   bench/data_parallel.sh [--steps N] [--nproc N] [--out DIR]
#
# Prints the CPU, then one line per run: samples/s and the share of the steps spent in the sums between ranks
# (log.jsonl's communication_share, which includes each rank's wait for the slower one), and the ratio.
set -euo pipefail

cd "$(dirname "$0")/.."
GRAFT=${GRAFT:-build/graft}
FPB_CSV=${FPB_CSV:-../shared/data/financial_phrasebank/train.csv}
TOKENIZER=${TOKENIZER:-../shared/golden/tokenizer}
steps=12
nproc=2
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=$2; shift ;;
    --nproc) nproc=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "data_parallel.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$GRAFT" ]] || { echo "data_parallel.sh: no $GRAFT (build graft_cli first, or set GRAFT=path)" >&2; exit 1; }
[[ -f "$FPB_CSV" ]] || { echo "data_parallel.sh: no $FPB_CSV (../shared/data, or set FPB_CSV)" >&2; exit 1; }
[[ -n "$out" ]] || out=$(mktemp -d /tmp/graft-data-parallel.XXXXXX)
mkdir -p "$out"
"$GRAFT" --version | head -2

# distilbert-base-uncased's architecture with a 3-label head.
cat > "$out/config.json" <<'EOF'
{"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert", "vocab_size": 30522,
 "dim": 768, "hidden_dim": 3072, "n_layers": 6, "n_heads": 12, "max_position_embeddings": 512,
 "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "pad_token_id": 0,
 "initializer_range": 0.02, "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
 "label2id": {"negative": 0, "neutral": 1, "positive": 2}}
EOF
rm -rf "$out/model"
"$GRAFT" init --config "$out/config.json" --tokenizer "$TOKENIZER" --output "$out/model" > /dev/null

train() {  # NAME, then what precedes and follows `graft train`'s common options
  local name=$1 prefix=$2 suffix=$3
  rm -rf "$out/$name"
  env $prefix "$GRAFT" train --no-progress --model "$out/model" --train "$FPB_CSV" --batch-size 32 --max-length 128 \
    --max-steps "$steps" --logging-steps "$steps" --dropout 0.1 --eval-strategy no --lr 2e-5 \
    --output "$out/$name" $suffix > "$out/$name.log" 2>&1
  python3 - "$out/$name/stage-1/log.jsonl" "$name" <<'EOF'
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
last = next(e for e in reversed(entries) if "samples_per_second" in e)
print(f"{sys.argv[2]} {last['samples_per_second']:.3f} samples/s communication_share {last.get('communication_share', 0.0):.3f}")
EOF
}

cores=$(nproc)
one=$(train one-process "OMP_NUM_THREADS=$cores" "")
ranks=$(train ranks "" "--nproc $nproc")
echo "$one (1 process x $cores threads)"
echo "$ranks ($nproc ranks x $((cores / nproc)) threads)"
python3 -c "import sys; print(f'RATIO data_parallel_{sys.argv[3]}_ranks {float(sys.argv[2]) / float(sys.argv[1]):.3f}')" \
  "$(echo "$one" | cut -d' ' -f2)" "$(echo "$ranks" | cut -d' ' -f2)" "$nproc"
