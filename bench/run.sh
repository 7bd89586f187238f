#!/usr/bin/env bash
# bench/run.sh: graft against PyTorch and ONNX Runtime on the workloads of issues 5 and 17, one after the
# other in the same run.
#
#   bench/run.sh [--tiny] [--fp32] [--repeats N] [--epoch-repeats N] [--workloads a,b,...] [--out DIR]
#
# --fp32 runs the bf16 workloads in fp32 on both sides, for CPUs without bf16 units.
# Builds nothing: it runs $GRAFT (default build/graft) and bench/reference.py under $PYTHON (default
# .venv-reference/bin/python, which `scripts/install-deps.sh --reference` makes with a current torch and
# onnxruntime from PyPI). Each workload runs in its own process on each side, PyTorch first, then graft, then
# ONNX Runtime where it has the workload, so that a ratio compares measurements taken seconds apart and each
# peak RSS is that workload's own. Ends with the lines the issues ask for: RATIO <name> <peer time / graft time>
# <peer> (for memory: graft RSS / PyTorch RSS) and EFFICIENCY <name> <fraction of graft's GEMM rate that its
# training step reaches>.
set -euo pipefail

cd "$(dirname "$0")/.."
GRAFT=${GRAFT:-build/graft}
PYTHON=${PYTHON:-.venv-reference/bin/python}
FPB_CSV=${FPB_CSV:-../shared/data/financial_phrasebank/train.csv}
TOKENIZER=${TOKENIZER:-../shared/golden/tokenizer}

repeats=3
epoch_repeats=0
tiny=0
fp32=0
out=""
workloads="gemm_fp32,gemm_bf16,train_fp32,train_bf16,infer_b32_fp32,infer_b32_bf16,latency_b1_s32_fp32"
workloads+=",latency_b1_s32_bf16,fpb_epoch_bf16,frozen_head_epoch,infer_b32_int8,latency_b1_s32_int8"
workloads+=",infer_mixed_b32_fp32"

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tiny) tiny=1 ;;
    --fp32) fp32=1 ;;
    --repeats) repeats=$2; shift ;;
    --epoch-repeats) epoch_repeats=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
  shift
done

[[ -x "$GRAFT" ]] || { echo "run.sh: no $GRAFT (build graft_cli first, or set GRAFT=path)" >&2; exit 1; }
"$PYTHON" -c "import torch, onnxruntime" 2>/dev/null ||
  { echo "run.sh: $PYTHON cannot import torch and onnxruntime (scripts/install-deps.sh --reference)" >&2; exit 1; }
if [[ $tiny == 0 && $fp32 == 0 ]] && ! grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo; then
  echo "run.sh: warning: this CPU has neither AVX512-BF16 nor AMX, so PyTorch's bf16 workloads (*_bf16," \
    "frozen_head_epoch) run on a scalar fallback and take hours; --fp32 runs them in fp32 on both sides" >&2
fi
[[ -n "$out" ]] || out=$(mktemp -d /tmp/graft-bench.XXXXXX)
mkdir -p "$out"
: > "$out/pytorch.jsonl"
: > "$out/graft.jsonl"
: > "$out/onnxruntime.jsonl"
echo "run.sh: JSON lines in $out" >&2
"$GRAFT" --version | tee "$out/graft-version.txt" >&2  # the build, the CPU, its instruction sets, the kernels chosen

common=(--repeats "$repeats" --epoch-repeats "$epoch_repeats" --threads 2 --fpb-ids "$out/fpb_ids.jsonl")
if [[ $tiny == 1 ]]; then common+=(--tiny); fi
if [[ $fp32 == 1 ]]; then common+=(--fp32); fi

# Financial PhraseBank, tokenized once by graft's tokenizer so that both sides train on the same ids: labels as
# sorted class ids (graft's LabelMap order), at most 128 tokens. --tiny keeps the first 512 sentences.
fpb_limit=0
if [[ $tiny == 1 ]]; then fpb_limit=512; fi
"$PYTHON" - "$FPB_CSV" "$out" "$fpb_limit" <<'EOF'
import csv, json, sys
path, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
rows = rows[:limit] if limit else rows
ids = {name: i for i, name in enumerate(sorted({row["label"] for row in rows}))}
with open(f"{out}/fpb_sentences.txt", "w", encoding="utf-8") as f:
    f.writelines(" ".join(row["sentence"].split()) + "\n" for row in rows)  # one line each, as tokenize reads them
with open(f"{out}/fpb_labels.json", "w") as f:
    json.dump([ids[row["label"]] for row in rows], f)
EOF
"$GRAFT" tokenize --model "$TOKENIZER" --json --max-length 128 --truncation longest_first \
  < "$out/fpb_sentences.txt" > "$out/fpb_tokens.jsonl"
"$PYTHON" - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
labels = json.load(open(f"{out}/fpb_labels.json"))
encodings = [json.loads(line) for line in open(f"{out}/fpb_tokens.jsonl")]
assert len(labels) == len(encodings), f"{len(labels)} labels but {len(encodings)} tokenized sentences"
with open(f"{out}/fpb_ids.jsonl", "w") as f:
    for label, encoding in zip(labels, encodings):
        f.write(json.dumps({"label": label, "input_ids": encoding["input_ids"]}) + "\n")
EOF

# graft's workloads that ONNX Runtime runs too (reference.py exports the same PyTorch model to ONNX; for int8,
# ONNX Runtime's quantize_dynamic of it is the peer, and PyTorch runs no int8 workload).
declare -A onnxruntime_peer=([infer_b32_fp32]=ort_infer_b32_fp32 [latency_b1_s32_fp32]=ort_latency_b1_s32_fp32
                             [infer_b32_int8]=ort_infer_b32_int8 [latency_b1_s32_int8]=ort_latency_b1_s32_int8
                             [infer_mixed_b32_fp32]=ort_infer_mixed_b32_fp32)
for workload in ${workloads//,/ }; do
  if [[ $workload != *_int8 ]]; then
    "$PYTHON" bench/reference.py --workload "$workload" "${common[@]}" >> "$out/pytorch.jsonl"
  fi
  "$GRAFT" bench --workload "$workload" "${common[@]}" >> "$out/graft.jsonl"
  peer=${onnxruntime_peer[$workload]:-}
  if [[ -n $peer ]]; then
    "$PYTHON" bench/reference.py --workload "$peer" "${common[@]}" >> "$out/onnxruntime.jsonl"
  fi
done

"$PYTHON" - "$out" <<'EOF'
import json, math, os, sys, time

out = sys.argv[1]

def read(side):
    return {row["workload"]: row for row in map(json.loads, open(f"{out}/{side}.jsonl")) if row}

torch_rows, graft_rows, ort_rows = read("pytorch"), read("graft"), read("onnxruntime")
order = [w for w in torch_rows if w in graft_rows]
ORT_PEERS = {"infer_b32_fp32": "ort_infer_b32_fp32", "latency_b1_s32_fp32": "ort_latency_b1_s32_fp32",
             "infer_b32_int8": "ort_infer_b32_int8", "latency_b1_s32_int8": "ort_latency_b1_s32_int8",
             "infer_mixed_b32_fp32": "ort_infer_mixed_b32_fp32"}


def training_step_flops(row):
    # FLOPs of one DistilBERT training step on B x T tokens (L layers, dim D, FFN F). The forward's matmuls cost
    # 2 x weights x tokens, and their backward twice that (dinput and dweight), hence 6 x (encoder matmul weights)
    # x tokens, the weights of a layer being q, k, v, out (4 D^2) and lin1, lin2 (2 D F). Attention's own
    # matmuls (Q K^T and P V, 2 B T^2 D each) are 4 B T^2 D per layer forward, x3 with the backward.
    # Embedding gathers and the head (B rows only) are left out: < 0.1% at distilbert-base's shapes.
    b, t, d, f, layers = row["batch"], row["tokens"], row["dim"], row["ffn"], row["layers"]
    return 6 * layers * (4 * d * d + 2 * d * f) * b * t + 3 * layers * 4 * b * t * t * d


def ratio(workload):
    if workload not in order:
        return math.nan
    return torch_rows[workload]["median_s"] / graft_rows[workload]["median_s"]


def ort_ratio(workload):
    peer = ORT_PEERS[workload]
    if workload not in graft_rows or peer not in ort_rows:
        return math.nan
    return ort_rows[peer]["median_s"] / graft_rows[workload]["median_s"]


def int8_speedup(workload):
    fp32 = workload.replace("_int8", "_fp32")
    if workload not in graft_rows or fp32 not in graft_rows:
        return math.nan
    return graft_rows[fp32]["median_s"] / graft_rows[workload]["median_s"]


def rss_ratio(workload):
    if workload not in order:
        return math.nan
    return graft_rows[workload]["peak_rss_mb"] / torch_rows[workload]["peak_rss_mb"]


def efficiency(step, gemm):
    if step not in graft_rows or gemm not in graft_rows:
        return math.nan
    step_rate = training_step_flops(graft_rows[step]) / graft_rows[step]["median_s"]
    return step_rate / (graft_rows[gemm]["gflops"] * 1e9)


def machine():
    # RESULTS.md wants the CPU with the figures; speed hinges on AVX-512, its bf16 and int8 (VNNI) instructions
    # and AMX, so say which of them it has.
    info = open("/proc/cpuinfo").read()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    names = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "avx512_vnni": "AVX512-VNNI",
             "avx_vnni": "AVX-VNNI", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8"}
    found = [name for flag, name in names.items() if flag in flags] or ["none of AVX2, AVX-512, VNNI, AMX"]
    date = time.strftime("%Y-%m-%d %H:%M")
    return (f"{model} ({', '.join(found)}), {os.cpu_count()} cores, torch {TORCH}, onnxruntime {ORT}, {date}")


TORCH = next(iter(torch_rows.values()), {}).get("torch", "?")
ORT = next(iter(ort_rows.values()), {}).get("onnxruntime", "?")
print(machine())
header = (f"{'workload':<22} {'precision':<11} {'PyTorch s':>10} {'graft s':>10} {'ratio':>7} "
          f"{'RSS PT MB':>10} {'RSS graft':>10}")
print(header)
print("-" * len(header))
for w in order:
    pt, gr = torch_rows[w], graft_rows[w]
    precision = pt["precision"] if pt["precision"] == gr["precision"] else f"{pt['precision']}/{gr['precision']}"
    print(f"{w:<22} {precision:<11} {pt['median_s']:>10.4f} {gr['median_s']:>10.4f} {ratio(w):>7.2f} "
          f"{pt['peak_rss_mb']:>10.0f} {gr['peak_rss_mb']:>10.0f}")
for w in ("gemm_fp32", "gemm_bf16"):
    if w in order:
        print(f"{w}: PyTorch {torch_rows[w]['gflops']:.1f} GFLOP/s, graft {graft_rows[w]['gflops']:.1f} GFLOP/s "
              f"({graft_rows[w]['precision']})")
for w in order:
    if "padded_tokens" in graft_rows[w]:
        real = graft_rows[w]["real_tokens"]
        print(f"{w}: {real} real tokens; padded to {torch_rows[w]['padded_tokens']} by PyTorch (file order), "
              f"{graft_rows[w]['padded_tokens']} by graft (similar lengths batched)")
for w, peer in ORT_PEERS.items():
    if w in graft_rows and peer in ort_rows:
        print(f"{w}: ONNX Runtime {ort_rows[peer]['median_s']:.4f} s ({peer}, max |logits - PyTorch's| "
              f"{ort_rows[peer]['max_abs_logit_diff_vs_pytorch']:.1e}), graft {graft_rows[w]['median_s']:.4f} s")
if "infer_mixed_b32_fp32" in graft_rows:
    row = graft_rows["infer_mixed_b32_fp32"]
    print(f"infer_mixed_b32_fp32: {row['packed_tokens']} real tokens, {row['padded_batch_tokens']} padded; graft "
          f"packed {row['median_s']:.4f} s, padded {row['padded_median_s']:.4f} s ({row['padded_over_packed']:.2f}x)")
mixed = [w for w in order if torch_rows[w]["precision"] != graft_rows[w]["precision"]]
if mixed:
    print("precision a/b: PyTorch ran a, graft ran b: " + ", ".join(mixed))
print()
for name in ("train_fp32", "train_bf16", "infer_b32_fp32", "infer_b32_bf16", "latency_b1_s32_fp32", "latency_b1_s32_bf16",
             "fpb_epoch_bf16", "frozen_head_epoch", "infer_mixed_b32_fp32"):
    print(f"RATIO {name} {ratio(name):.3f} torch-{TORCH}")
for name, peer in ORT_PEERS.items():
    print(f"RATIO {peer} {ort_ratio(name):.3f} onnxruntime-{ORT}")
for name in ("infer_b32_int8", "latency_b1_s32_int8"):
    print(f"RATIO graft_fp32_over_int8_{name.removesuffix('_int8')} {int8_speedup(name):.3f} graft")
padding = graft_rows.get("infer_mixed_b32_fp32", {}).get("padded_over_packed", math.nan)
print(f"RATIO graft_padded_over_packed_infer_mixed_b32 {padding:.3f} graft")
print(f"RATIO peak_rss_train_fp32 {rss_ratio('train_fp32'):.3f} torch-{TORCH}")
print(f"RATIO peak_rss_fpb_epoch_bf16 {rss_ratio('fpb_epoch_bf16'):.3f} torch-{TORCH}")
# Against the GEMM rate of the precision graft ran: gemm_bf16 says which.
print(f"EFFICIENCY train_fp32 {efficiency('train_fp32', 'gemm_fp32'):.3f}")
print(f"EFFICIENCY train_bf16 {efficiency('train_bf16', 'gemm_bf16'):.3f}")
EOF
