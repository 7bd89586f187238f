#!/usr/bin/env bash
# bench/serve.sh: graft serve under load (issue 18). wrk posts Financial PhraseBank's test sentences, one per
# request, to /predict at 1, 8 and 64 connections; the same sentences through `graft predict` offline are the
# ceiling. Prints requests/s, p50/p99 latency and the mean batch size per level, then
#   RATIO serve_64_over_offline <server requests/s at 64 connections / offline sentences/s>
#   DELTA serve_1_p50_minus_offline_ms <p50 at 1 connection - one offline sentence's time, in ms>
#
#   bench/serve.sh [--model DIR] [--seconds S] [--out DIR]
#
# Without --model it serves the shipped base (models/distilbert-mini-uncased) with a 3-label head trained for
# a few steps on Financial PhraseBank (speed does not depend on how well the head is trained). Needs wrk
# (scripts/install-deps.sh), $GRAFT (default build/graft) and ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
GRAFT=${GRAFT:-build/graft}
FPB=${FPB:-../shared/data/financial_phrasebank}
model=""
seconds=10
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --out) out=$2; shift ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  shift
done
out=${out:-$(mktemp -d)}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "serve.sh: wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
[[ -f $FPB/test.csv ]] || { echo "serve.sh: $FPB/test.csv not found (../shared/data)" >&2; exit 1; }

if [[ -z $model ]]; then
  model=$out/model
  "$GRAFT" train --model models/distilbert-mini-uncased --train "$FPB/train.csv" --text-column sentence \
    --label-column label --output "$model" --stage "freeze=none,epochs=1,lr=5e-5" --max-steps 20 --no-progress \
    > "$out/train.log" 2>&1
fi

# The sentences, and each as a ready request body (JSON-escaped once, here).
python3 - "$FPB/test.csv" "$out" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
with open(f"{sys.argv[2]}/sentences.txt", "w") as text, open(f"{sys.argv[2]}/bodies.txt", "w") as bodies:
    for row in rows:
        sentence = " ".join(row["sentence"].split())
        text.write(sentence + "\n")
        bodies.write(json.dumps({"inputs": sentence}) + "\n")
EOF
sentences=$(wc -l < "$out/sentences.txt")

cat > "$out/post.lua" <<'EOF'
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local next_body = 0
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, bodies[next_body])
end
EOF

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "CPU: $cpu, $(nproc) cores; model $model; $sentences sentences"

# The offline ceiling: every sentence in batches of 32, and one sentence at a time.
offline() {  # BATCH -> seconds for all sentences (the median of 3, model load excluded by a 1-sentence run)
  python3 - "$GRAFT" "$model" "$out/sentences.txt" "$1" <<'EOF'
import statistics, subprocess, sys, time
graft, model, sentences, batch = sys.argv[1:]
def run(path):
    start = time.perf_counter()
    subprocess.run([graft, "predict", "--model", model, "--file", path, "--batch-size", batch],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start
one = sentences + ".one"
open(one, "w").write(open(sentences).readline())
load = statistics.median(run(one) for _ in range(3))
print(statistics.median(run(sentences) for _ in range(3)) - load)
EOF
}
offline_32=$(offline 32)
offline_1=$(offline 1)
offline_rate=$(python3 -c "print($sentences / $offline_32)")
offline_one_ms=$(python3 -c "print(1e3 * $offline_1 / $sentences)")
printf 'offline graft predict: %.1f sentences/s at batch 32, %.2f ms a sentence at batch 1\n' \
  "$offline_rate" "$offline_one_ms"

port=$((20000 + RANDOM % 20000))
"$GRAFT" serve --model "$model" --port "$port" 2> "$out/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'on http' "$out/serve.log" && break; sleep 0.1; done

batch_mean() {  # the mean batch size from /metrics' histogram so far: SUM COUNT
  curl -s "127.0.0.1:$port/metrics" | awk '/^te_batch_next_size_sum/ {s=$2} /^te_batch_next_size_count/ {c=$2}
    END {print s, c}'
}
declare -A rate p50
for connections in 1 8 64; do
  read -r sum_before count_before < <(batch_mean)
  BODIES=$out/bodies.txt wrk -t "$((connections < 2 ? 1 : 2))" -c "$connections" -d "${seconds}s" --latency \
    -s "$out/post.lua" "http://127.0.0.1:$port" > "$out/wrk_$connections.txt"
  read -r sum_after count_after < <(batch_mean)
  rate[$connections]=$(awk '/^Requests\/sec/ {print $2}' "$out/wrk_$connections.txt")
  p50[$connections]=$(awk '$1 == "50%" {print $2}' "$out/wrk_$connections.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$out/wrk_$connections.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk_$connections.txt")
  mean=$(python3 -c "print(round(($sum_after - $sum_before) / max(1, $count_after - $count_before), 2))")
  echo "connections $connections: ${rate[$connections]} requests/s, p50 ${p50[$connections]}, p99 $p99," \
       "mean batch $mean requests, non-2xx ${non2xx:-0}"
done
kill -TERM $server
wait $server
trap - EXIT

to_ms() { python3 -c "import re,sys; v,u=re.match(r'([\d.]+)(\w+)','$1').groups(); print(float(v)*{'us':1e-3,'ms':1,'s':1e3}[u])"; }
python3 -c "print(f'RATIO serve_64_over_offline {${rate[64]} / $offline_rate:.3f}')"
python3 -c "print(f'DELTA serve_1_p50_minus_offline_ms {$(to_ms "${p50[1]}") - $offline_one_ms:.2f}')"
