#!/usr/bin/python3
"""PyTorch's side of graft's CPU yardstick (issue 5); `graft bench` is graft's side, bench/run.sh runs both.

DistilBertForSequenceClassification written with the math of transformers' modeling_distilbert and the same
parameter names, so that it loads a Hub checkpoint folder (config.json + model.safetensors) and can be checked
against the transformers goldens (--check) before its timings are trusted. Each workload prints one JSON line
with its median seconds and the process's peak RSS so far (run.sh starts one process per workload).

Run with Debian's /usr/bin/python3 (python3-torch); the safetensors format is parsed here because Debian has no
safetensors package.
"""
import argparse
import contextlib
import json
import math
import resource
import statistics
import struct
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden" / "distilbert_seqcls"
LEARNING_RATE = 2e-5
MAX_GRAD_NORM = 1.0  # Hugging Face Trainer's default, as in graft bench
LATENCY_REPEAT_FACTOR = 10  # latencies are short and noisy: they get 10x the repetitions
LATENCY_TOKENS = 32
GEMM_M, GEMM_K, GEMM_N = 4096, 768, 3072  # the FFN's lin1 at b32 x 128
WORKLOADS = ["gemm_fp32", "gemm_bf16", "train_fp32", "train_bf16", "infer_b32_fp32", "infer_b32_bf16",
             "latency_b1_s32_fp32", "latency_b1_s32_bf16", "fpb_epoch_bf16", "frozen_head_epoch",
             "ort_infer_b32_fp32", "ort_latency_b1_s32_fp32", "ort_infer_b32_int8", "ort_latency_b1_s32_int8",
             "infer_mixed_b32_fp32", "ort_infer_mixed_b32_fp32"]
ORT_TOLERANCE = 1e-4  # max |ONNX Runtime logits - PyTorch logits| before ONNX Runtime's timings are trusted
EPOCH_WORKLOADS = {"fpb_epoch_bf16", "frozen_head_epoch"}


# ---------------------------------------------------------------------------------------------------------------
# The model


class Config:
    """DistilBertConfig's fields and defaults."""

    def __init__(self, fields):
        self.vocab_size = fields.get("vocab_size", 30522)
        self.max_position_embeddings = fields.get("max_position_embeddings", 512)
        self.sinusoidal_pos_embds = fields.get("sinusoidal_pos_embds", False)
        self.n_layers = fields.get("n_layers", 6)
        self.n_heads = fields.get("n_heads", 12)
        self.dim = fields.get("dim", 768)
        self.hidden_dim = fields.get("hidden_dim", 3072)
        self.dropout = fields.get("dropout", 0.1)
        self.attention_dropout = fields.get("attention_dropout", 0.1)
        self.activation = fields.get("activation", "gelu")
        self.initializer_range = fields.get("initializer_range", 0.02)
        self.seq_classif_dropout = fields.get("seq_classif_dropout", 0.2)
        self.pad_token_id = fields.get("pad_token_id", 0)
        self.num_labels = len(fields["id2label"]) if "id2label" in fields else fields.get("num_labels", 2)


def sinusoidal_table(positions, dim):
    # transformers' create_sinusoidal_embeddings: sin on even columns, cos on odd ones.
    table = torch.tensor([[pos / 10000 ** (2 * (j // 2) / dim) for j in range(dim)] for pos in range(positions)])
    out = torch.empty(positions, dim)
    out[:, 0::2] = torch.sin(table[:, 0::2])
    out[:, 1::2] = torch.cos(table[:, 1::2])
    return out


class Embeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        if config.sinusoidal_pos_embds:
            self.position_embeddings.weight.data = sinusoidal_table(config.max_position_embeddings, config.dim)
            self.position_embeddings.weight.requires_grad = False
        self.LayerNorm = nn.LayerNorm(config.dim, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.size(1), dtype=torch.long, device=input_ids.device).unsqueeze(0)
        embeddings = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(embeddings))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_heads = config.n_heads
        self.dim = config.dim
        self.dropout = nn.Dropout(p=config.attention_dropout)
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)

    def forward(self, x, mask):
        batch, length, _ = x.size()
        head_dim = self.dim // self.n_heads

        def split_heads(t):
            return t.view(batch, -1, self.n_heads, head_dim).transpose(1, 2)

        q = split_heads(self.q_lin(x)) / math.sqrt(head_dim)
        k = split_heads(self.k_lin(x))
        v = split_heads(self.v_lin(x))
        scores = torch.matmul(q, k.transpose(2, 3))
        padding = (mask == 0).view(batch, 1, 1, length).expand_as(scores)
        scores = scores.masked_fill(padding, torch.tensor(torch.finfo(scores.dtype).min))
        weights = self.dropout(nn.functional.softmax(scores, dim=-1))
        context = torch.matmul(weights, v).transpose(1, 2).contiguous().view(batch, -1, self.n_heads * head_dim)
        return self.out_lin(context)


class FFN(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dropout = nn.Dropout(p=config.dropout)
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = nn.GELU() if config.activation == "gelu" else nn.ReLU()

    def forward(self, x):
        return self.dropout(self.lin2(self.activation(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = MultiHeadSelfAttention(config)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.ffn = FFN(config)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)

    def forward(self, x, mask):
        attended = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(attended) + attended)


class Transformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(config) for _ in range(config.n_layers)])

    def forward(self, x, mask):
        for block in self.layer:
            x = block(x, mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)

    def forward(self, input_ids, attention_mask):
        return self.transformer(self.embeddings(input_ids), attention_mask)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # transformers' _init_weights: normal(0, initializer_range), zero biases and padding row, LayerNorm 1/0.
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            module.bias.data.zero_()
        elif isinstance(module, nn.Embedding) and module.weight.requires_grad:
            module.weight.data.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    def forward(self, input_ids, attention_mask):
        first_token = self.distilbert(input_ids, attention_mask)[:, 0]
        pooled = self.dropout(nn.ReLU()(self.pre_classifier(first_token)))
        return self.classifier(pooled)


# ---------------------------------------------------------------------------------------------------------------
# safetensors: an 8-byte little-endian header length, a JSON header, then the raw little-endian data.

SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                      "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    data = bytearray(Path(path).read_bytes())
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        chunk = data[base + begin:base + end]
        flat = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors


def from_pretrained(folder):
    folder = Path(folder)
    config = Config(json.loads((folder / "config.json").read_text()))
    model = DistilBertForSequenceClassification(config)
    state = {name: tensor.float() for name, tensor in read_safetensors(folder / "model.safetensors").items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        sys.exit(f"{folder}: checkpoint lacks {missing}")
    if unexpected:
        print(f"{folder}: ignored {unexpected}", file=sys.stderr)
    return model


def check(golden):
    """Logits of the golden checkpoint on the golden batch: the reference must match transformers before it times."""
    model = from_pretrained(golden / "checkpoint").eval()
    expected = read_safetensors(golden / "forward_backward.safetensors")
    with torch.no_grad():
        logits = model(expected["input_ids"], expected["attention_mask"])
        loss = F.cross_entropy(logits, expected["labels"])
    logits_error = (logits - expected["logits"]).abs().max().item()
    loss_error = (loss - expected["loss"].reshape(())).abs().item()
    print(f"max |logits - golden| = {logits_error:.3e} (tolerance 1e-4); |loss - golden| = {loss_error:.3e}")
    if logits_error > 1e-4:
        sys.exit("reference.py --check: the logits differ from transformers' golden")


# ---------------------------------------------------------------------------------------------------------------
# The workloads


def shapes_for(args):
    """The same table as graft bench: distilbert-base-uncased, or a tiny model to check the harness."""
    if args.tiny:
        shapes = dict(layers=2, dim=64, heads=4, ffn=256, vocab=30522, batch=8, tokens=32)
    else:
        shapes = dict(layers=6, dim=768, heads=12, ffn=3072, vocab=30522, batch=32, tokens=128)
    if args.batch:
        shapes["batch"] = args.batch
    if args.tokens:
        shapes["tokens"] = args.tokens
    return shapes


def bench_model(shapes):
    return DistilBertForSequenceClassification(Config(dict(
        dim=shapes["dim"], n_layers=shapes["layers"], n_heads=shapes["heads"], hidden_dim=shapes["ffn"],
        vocab_size=shapes["vocab"], max_position_embeddings=512, dropout=0.1, attention_dropout=0.1,
        seq_classif_dropout=0.2, id2label={"0": "negative", "1": "neutral", "2": "positive"})))


def random_batch(batch, tokens, vocab):
    ids = torch.randint(1000, vocab, (batch, tokens))
    return ids, torch.ones_like(ids), torch.randint(0, 3, (batch,))


def mixed_lengths(batch, tokens):
    """What a server's batch holds: lengths spread evenly from tokens / 8 to tokens (graft bench has the same)."""
    shortest = max(1, tokens // 8)
    return [tokens] if batch == 1 else [shortest + (tokens - shortest) * i // (batch - 1) for i in range(batch)]


def mixed_batch(batch, tokens, vocab):
    """The mixed lengths padded to the longest and masked, as a tokenizer's padding=True gives them."""
    ids, mask, labels = random_batch(batch, tokens, vocab)
    for row, length in enumerate(mixed_lengths(batch, tokens)):
        ids[row, length:] = 0
        mask[row, length:] = 0
    return ids, mask, labels


def batch_for(workload, batch, tokens, vocab):
    return (mixed_batch if "_mixed_" in workload else random_batch)(batch, tokens, vocab)


# --fp32: every workload in fp32, for CPUs without bf16 units (there torch's bf16 is a scalar fallback).
FP32_ONLY = False


def precision_of(workload):
    if FP32_ONLY:
        return "fp32"
    return "bf16" if workload.endswith("_bf16") or workload == "frozen_head_epoch" else "fp32"


def autocast(precision):
    # Mixed precision as transformers' Trainer(bf16=True) runs it on CPU: fp32 master weights, bf16 matmuls.
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def time_runs(warmups, repeats, run):
    for _ in range(warmups):
        run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def report(workload, precision, seconds, side="pytorch", **extra):
    line = dict(side=side, workload=workload, precision=precision, median_s=statistics.median(seconds),
                times_s=seconds, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                torch=torch.__version__, **extra)
    print(json.dumps(line), flush=True)


class Trainee:
    """A model with AdamW as transformers' Trainer sets it up: no weight decay on biases and LayerNorm weights."""

    def __init__(self, shapes, precision, total_steps, freeze_base=False):
        self.model = bench_model(shapes).train()  # dropout on
        if freeze_base:
            for parameter in self.model.distilbert.parameters():
                parameter.requires_grad = False
        trainable = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        no_decay = [p for name, p in trainable if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name]
        decay = [p for name, p in trainable if not any(p is q for q in no_decay)]
        self.parameters = [p for _, p in trainable]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=LEARNING_RATE)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: max(0.0, (total_steps - step) / max(1, total_steps)))
        self.precision = precision

    def train_on(self, ids, mask, labels):
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.precision):
            logits = self.model(ids, mask)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, MAX_GRAD_NORM)
        self.optimizer.step()
        self.schedule.step()


def shape_fields(shapes, batch, tokens):
    return {key: shapes[key] for key in ("layers", "dim", "heads", "ffn", "vocab")} | dict(batch=batch, tokens=tokens)


def bench_gemm(workload, args):
    dtype = torch.bfloat16 if precision_of(workload) == "bf16" else torch.float32
    a = torch.randn(GEMM_M, GEMM_K).to(dtype)
    weight = torch.randn(GEMM_N, GEMM_K).to(dtype)
    with torch.inference_mode():
        seconds = time_runs(1, max(args.repeats, 5), lambda: F.linear(a, weight))
    flops = 2.0 * GEMM_M * GEMM_N * GEMM_K
    report(workload, precision_of(workload), seconds, m=GEMM_M, k=GEMM_K, n=GEMM_N,
           gflops=flops / statistics.median(seconds) / 1e9)


def bench_train(workload, args):
    shapes = shapes_for(args)
    batch = random_batch(shapes["batch"], shapes["tokens"], shapes["vocab"])
    trainee = Trainee(shapes, precision_of(workload), 1 + args.repeats)
    seconds = time_runs(1, args.repeats, lambda: trainee.train_on(*batch))
    report(workload, precision_of(workload), seconds, **shape_fields(shapes, shapes["batch"], shapes["tokens"]))


def bench_inference(workload, args, batch, tokens, warmups, repeats):
    shapes = shapes_for(args)
    ids, mask, _ = batch_for(workload, batch, tokens, shapes["vocab"])
    model = bench_model(shapes).eval()
    precision = precision_of(workload)

    def run():
        with torch.inference_mode(), autocast(precision):
            model(ids, mask)

    seconds = time_runs(warmups, repeats, run)
    report(workload, precision, seconds, **shape_fields(shapes, batch, tokens))


def bench_throughput(workload, args):
    shapes = shapes_for(args)
    bench_inference(workload, args, shapes["batch"], shapes["tokens"], 1, args.repeats)


def bench_latency(workload, args):
    bench_inference(workload, args, 1, LATENCY_TOKENS, 3, LATENCY_REPEAT_FACTOR * args.repeats)


def onnx_session(model, path, quantized, threads):
    """The model exported to ONNX (dynamic batch and sequence axes), as ONNX Runtime users run it: all graph
    optimisations, `threads` intra-op threads, one inter-op thread. quantized: ONNX Runtime's own dynamic int8
    quantisation of the exported model (weights per output channel, activations per call)."""
    import onnxruntime
    ids, mask, _ = random_batch(2, 16, model.config.vocab_size)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask")})
    if quantized:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantized_path = path.with_suffix(".int8.onnx")
        quantize_dynamic(str(path), str(quantized_path), weight_type=QuantType.QInt8, per_channel=True)
        path = quantized_path
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(ids, mask).numpy()
    got = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    error = float(abs(got - expected).max())
    if not quantized and error > ORT_TOLERANCE:
        sys.exit(f"reference.py: ONNX Runtime's logits differ from PyTorch's by {error:.3e} (> {ORT_TOLERANCE})")
    return session, error


def bench_onnxruntime(workload, args):
    """ONNX Runtime on the inference workloads, the model exported from the same PyTorch module."""
    import tempfile
    import onnxruntime
    shapes = shapes_for(args)
    latency = "latency" in workload
    batch, tokens = (1, LATENCY_TOKENS) if latency else (shapes["batch"], shapes["tokens"])
    model = bench_model(shapes).eval()
    quantized = workload.endswith("_int8")
    with tempfile.TemporaryDirectory() as folder:
        session, error = onnx_session(model, Path(folder) / "model.onnx", quantized, args.threads)
        ids, mask, _ = batch_for(workload, batch, tokens, shapes["vocab"])
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        warmups, repeats = (3, LATENCY_REPEAT_FACTOR * args.repeats) if latency else (1, args.repeats)
        seconds = time_runs(warmups, repeats, lambda: session.run(None, feeds))
    report(workload, "int8" if quantized else "fp32", seconds, side="onnxruntime",
           onnxruntime=onnxruntime.__version__, max_abs_logit_diff_vs_pytorch=error,
           **shape_fields(shapes, batch, tokens))


def read_fpb_ids(path):
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [row["input_ids"] for row in rows], [row["label"] for row in rows]


def pad_batch(ids, labels):
    """DataCollatorWithPadding: pad to the longest of the batch, pad id 0, mask 0."""
    longest = max(len(row) for row in ids)
    input_ids = torch.tensor([row + [0] * (longest - len(row)) for row in ids])
    mask = torch.tensor([[1] * len(row) + [0] * (longest - len(row)) for row in ids])
    return input_ids, mask, torch.tensor(labels)


def bench_epoch(workload, args):
    if not args.fpb_ids:
        sys.exit(f"{workload} needs --fpb-ids (bench/run.sh writes that file)")
    shapes = shapes_for(args)
    ids, labels = read_fpb_ids(args.fpb_ids)
    size = args.fpb_batch
    # File order, padded per batch (transformers' default, group_by_length=False); graft bench trains on the
    # same examples in batches of similar length, its default. Both report how many tokens they padded to.
    starts = range(0, len(ids), size)
    repeats = args.epoch_repeats or args.repeats
    trainee = Trainee(shapes, precision_of(workload), 1 + repeats * len(starts),
                      freeze_base=workload == "frozen_head_epoch")
    trainee.train_on(*pad_batch(ids[:size], labels[:size]))  # warm-up: one step, not a whole epoch

    def epoch():
        for start in starts:
            trainee.train_on(*pad_batch(ids[start:start + size], labels[start:start + size]))

    seconds = time_runs(0, repeats, epoch)
    padded = sum(len(batch) * max(len(row) for row in batch) for batch in (ids[s:s + size] for s in starts))
    report(workload, precision_of(workload), seconds, **shape_fields(shapes, size, 0), examples=len(ids),
           batches=len(starts), real_tokens=sum(len(row) for row in ids), padded_tokens=padded)


BENCHES = {"gemm_fp32": bench_gemm, "gemm_bf16": bench_gemm, "train_fp32": bench_train, "train_bf16": bench_train,
           "infer_b32_fp32": bench_throughput, "infer_b32_bf16": bench_throughput,
           "latency_b1_s32_fp32": bench_latency, "latency_b1_s32_bf16": bench_latency,
           "fpb_epoch_bf16": bench_epoch, "frozen_head_epoch": bench_epoch, "ort_infer_b32_fp32": bench_onnxruntime,
           "ort_latency_b1_s32_fp32": bench_onnxruntime, "ort_infer_b32_int8": bench_onnxruntime,
           "ort_latency_b1_s32_int8": bench_onnxruntime, "infer_mixed_b32_fp32": bench_throughput,
           "ort_infer_mixed_b32_fp32": bench_onnxruntime}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", nargs="?", const=str(GOLDEN), metavar="GOLDEN_DIR",
                        help=f"compare the logits with transformers' golden (default {GOLDEN}) and exit")
    parser.add_argument("--workload", action="append", choices=WORKLOADS,
                        help="workload to run (repeatable; default: all, the FPB epochs only with --fpb-ids)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer, dim-64 model and 8 x 32 batches")
    parser.add_argument("--fp32", action="store_true", help="run the bf16 workloads in fp32 too (no bf16 units)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after the warm-up")
    parser.add_argument("--epoch-repeats", type=int, default=0, help="timed FPB epochs (default: --repeats)")
    parser.add_argument("--batch", type=int, default=0, help="training and throughput batch size (32, tiny 8)")
    parser.add_argument("--tokens", type=int, default=0, help="tokens per sequence (128, tiny 32)")
    parser.add_argument("--fpb-ids", help="token ids of Financial PhraseBank's train.csv (JSON lines)")
    parser.add_argument("--fpb-batch", type=int, default=32, help="batch size of the FPB epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    global FP32_ONLY
    FP32_ONLY = args.fp32
    torch.set_num_threads(args.threads)
    if args.check:
        check(Path(args.check))
        return
    torch.manual_seed(args.seed)
    workloads = args.workload or [w for w in WORKLOADS if w not in EPOCH_WORKLOADS or args.fpb_ids]
    for workload in workloads:
        print(f"reference.py: {workload}", file=sys.stderr)
        BENCHES[workload](workload, args)


if __name__ == "__main__":
    main()
