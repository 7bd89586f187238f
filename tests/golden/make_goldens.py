#!/usr/bin/env python3
"""Reference outputs from Hugging Face transformers in the format of ../shared/golden (its README.md), so that
new model families and heads get goldens without waiting for anyone, and a check that the installed
transformers reproduces ../shared/golden.

Run with the reference environment that `scripts/install-deps.sh --reference` makes:

  .venv-reference/bin/python tests/golden/make_goldens.py check ../shared/golden
      Recomputes every model case from its own checkpoint and batches and compares each stored tensor and log
      with the README's tolerances: forward outputs 1e-4 absolute, gradients 1e-3 of each tensor's largest
      magnitude, parameters after training 1e-4 absolute, logged loss / grad norm / lr 1e-4 relative.

  .venv-reference/bin/python tests/golden/make_goldens.py make OUT_DIR --case distilbert_seqcls \
      --tokenizer ../shared/golden/tokenizer [--seed 0]
      Writes a new case into OUT_DIR (and versions.json beside it): a tiny randomly initialised model (the sizes of the README's table) whose LayerNorm
      parameters and biases are perturbed, random dynamically padded batches, and all the outputs.
"""
import argparse
import json
import math
import os
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file

# The README's training recipe (meta.json's train_spec).
TRAIN_SPEC = {
    "optimizer": "AdamW", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
    "no_weight_decay": "bias and LayerNorm parameters", "schedule": "linear warmup then linear decay to 0",
    "warmup_steps": 2, "total_steps": 6, "max_grad_norm": 1.0, "batches": "batch i uses inputs.batch{i % n}",
}
FORWARD_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-3  # of each tensor's largest magnitude
PARAMETER_TOLERANCE = 1e-4
LOG_TOLERANCE = 1e-4  # relative

# The cases of ../shared/golden: model class, config, and which training runs it records.
CASES = {
    "distilbert_seqcls": ("DistilBertForSequenceClassification",
                          dict(model_type="distilbert", dim=32, n_layers=2, n_heads=4, hidden_dim=64, num_labels=3,
                               id2label={0: "negative", 1: "neutral", 2: "positive"}), ["full", "frozen"]),
    "distilbert_mlm": ("DistilBertForMaskedLM",
                       dict(model_type="distilbert", dim=16, n_layers=2, n_heads=2, hidden_dim=32), []),
    "distilbert_tokcls": ("DistilBertForTokenClassification",
                          dict(model_type="distilbert", dim=16, n_layers=2, n_heads=2, hidden_dim=32, num_labels=5),
                          []),
    "bert_seqcls": ("BertForSequenceClassification",
                    dict(model_type="bert", hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, num_labels=2), ["full"]),
}


def model_class(config):
    return getattr(transformers, config.architectures[0])


def is_masked_lm(model):
    return "MaskedLM" in type(model).__name__


def base_prefix(model):
    return model.base_model_prefix + "."


def vocabulary_sized(model, tensor):
    return tensor.dim() == 2 and tensor.shape[0] == model.config.vocab_size


def model_inputs(batch):
    return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


def forward_backward(model, batch, used_token_ids):
    """The tensors of forward_backward.safetensors for one batch."""
    model.zero_grad(set_to_none=True)
    output = model(**model_inputs(batch), labels=batch["labels"], output_hidden_states=True, output_attentions=True)
    output.loss.backward()
    result = dict(batch)
    for i, hidden in enumerate(output.hidden_states):
        result[f"hidden_states.{i}"] = hidden.detach()
    for i, attention in enumerate(output.attentions):
        result[f"attentions.{i}"] = attention.detach()
    if is_masked_lm(model):
        positions = (batch["labels"] != -100).nonzero()
        result["masked_positions"] = positions
        result["logits_at_masked_positions"] = output.logits.detach()[positions[:, 0], positions[:, 1]]
    else:
        result["logits"] = output.logits.detach()
        result["used_token_ids"] = used_token_ids
    result["loss"] = output.loss.detach().reshape(1)
    for name, parameter in model.named_parameters():
        if parameter.grad is None:
            continue
        if vocabulary_sized(model, parameter) and not is_masked_lm(model):
            result[f"grad.{name}.rows"] = parameter.grad[used_token_ids]
        else:
            result[f"grad.{name}"] = parameter.grad.clone()
    return result


def is_bias_or_layer_norm(name):
    # BERT's LayerNorm, DistilBERT's sa_layer_norm / output_layer_norm and its embeddings' LayerNorm
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name


def load(checkpoint):
    config = transformers.AutoConfig.from_pretrained(checkpoint)
    # Eager attention: the default SDPA kernel returns no attention probabilities.
    return model_class(config).from_pretrained(checkpoint, attn_implementation="eager")


def linear_lr(step, spec):
    if step < spec["warmup_steps"]:
        return spec["lr"] * step / spec["warmup_steps"]
    return spec["lr"] * max(0.0, (spec["total_steps"] - step) / (spec["total_steps"] - spec["warmup_steps"]))


def train(model, batches, frozen, used_token_ids, spec=TRAIN_SPEC):
    """spec["total_steps"] AdamW steps as the README describes; returns (parameters after, per-step log)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(not (frozen and name.startswith(base_prefix(model))))
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = [p for n, p in trainable if is_bias_or_layer_norm(n)]
    decay = [p for n, p in trainable if not is_bias_or_layer_norm(n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": spec["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=spec["lr"], betas=tuple(spec["betas"]), eps=spec["eps"])
    log = []
    for step in range(spec["total_steps"]):
        lr = linear_lr(step, spec)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = batches[step % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = model(**model_inputs(batch), labels=batch["labels"]).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([p for _, p in trainable], spec["max_grad_norm"])
        optimizer.step()
        log.append({"step": step, "loss": loss.item(), "grad_norm_before_clip": norm.item(), "lr": lr})
    after = {}
    for name, parameter in trainable:
        value = parameter.detach().clone()
        if vocabulary_sized(model, parameter):
            after[f"{name}.rows"] = value[used_token_ids]
            after["used_token_ids"] = used_token_ids  # which rows those are
        else:
            after[name] = value
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return after, log


def batches_of(tensors):
    count = len({k.split(".")[0] for k in tensors})
    return [{k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(f"batch{i}.")} for i in range(count)]


def compare(kind, name, actual, expected, report, largest_gradient=0.0):
    if actual.shape != expected.shape:
        report.append(f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
        return
    if not actual.is_floating_point():
        if not torch.equal(actual, expected):
            report.append(f"{name}: integers differ")
        return
    diff = (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0
    if kind == "gradient":
        # Plus a share of the model's largest gradient for the key biases, whose gradient is zero in exact
        # arithmetic (softmax ignores a shift of a row of scores) and holds only rounding noise.
        bound = GRADIENT_TOLERANCE * expected.abs().max().item() + 1e-6 * largest_gradient
    else:
        bound = FORWARD_TOLERANCE if kind == "forward" else PARAMETER_TOLERANCE
    if not diff <= bound:
        report.append(f"{name}: max |difference| {diff:.3g} > {bound:.3g}")
    return diff


def check_case(folder):
    model = load(f"{folder}/checkpoint")
    model.train()  # dropout is 0 in every case
    report, worst = [], {"forward": 0.0, "gradient": 0.0, "parameter": 0.0}
    stored = load_file(f"{folder}/forward_backward.safetensors")
    batch = {k: stored[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels") if k in stored}
    used = stored.get("used_token_ids")
    computed = forward_backward(model, batch, used)
    largest_gradient = max(v.abs().max().item() for k, v in stored.items() if k.startswith("grad."))
    for name, expected in stored.items():
        if name not in computed:
            report.append(f"{name}: not computed")
            continue
        kind = "gradient" if name.startswith("grad.") else "forward"
        diff = compare(kind, f"forward_backward/{name}", computed[name], expected, report, largest_gradient)
        worst[kind] = max(worst[kind], diff or 0.0)
    meta = json.load(open(f"{folder}/meta.json", encoding="utf-8"))
    runs = [("full", "after_full_finetune", "full_finetune_log"), ("frozen", "after_frozen_base_head", "frozen_base_log")]
    for run, file_name, log_name in runs:
        if not os.path.exists(f"{folder}/{file_name}.safetensors"):
            continue
        batches = batches_of(load_file(f"{folder}/train_batches.safetensors"))
        after, log = train(load(f"{folder}/checkpoint"), batches, run == "frozen", used, meta["train_spec"])
        expected_after = load_file(f"{folder}/{file_name}.safetensors")
        if set(after) != set(expected_after):
            report.append(f"{file_name}: parameters {sorted(set(after) ^ set(expected_after))} differ in name")
        for name in expected_after.keys() & after.keys():
            diff = compare("parameter", f"{file_name}/{name}", after[name], expected_after[name], report)
            worst["parameter"] = max(worst["parameter"], diff or 0.0)
        for mine, theirs in zip(log, meta[log_name]):
            for key in ("loss", "grad_norm_before_clip", "lr"):
                if not math.isclose(mine[key], theirs[key], rel_tol=LOG_TOLERANCE, abs_tol=1e-12):
                    report.append(f"{log_name} step {mine['step']} {key}: {mine[key]} vs {theirs[key]}")
    return report, worst


def check(golden_dir):
    if not os.path.isdir(golden_dir):
        print(f"skipped: no goldens at {golden_dir}")
        return 77
    versions = json.load(open(f"{golden_dir}/versions.json", encoding="utf-8"))
    print(f"goldens: transformers {versions['transformers']}, torch {versions['torch']}; "
          f"here: transformers {transformers.__version__}, torch {torch.__version__}")
    failed = False
    for case in CASES:
        if not os.path.isdir(f"{golden_dir}/{case}"):
            print(f"{case}: not in {golden_dir}")
            continue
        report, worst = check_case(f"{golden_dir}/{case}")
        status = "FAIL" if report else "ok"
        print(f"{case}: {status}; worst forward {worst['forward']:.2g}, gradient {worst['gradient']:.2g} "
              f"(absolute), parameters {worst['parameter']:.2g}")
        for line in report:
            print(f"  {line}")
        failed |= bool(report)
    return 1 if failed else 0


def perturb(model, generator):
    """LayerNorm parameters and biases off their defaults, so that a swapped gamma/beta or a lost bias shows."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if is_bias_or_layer_norm(name):
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def random_batches(model, count, generator, vocabulary):
    batches = []
    for _ in range(count):
        size = 4
        lengths = torch.randint(5, 12, (size,), generator=generator)
        longest = int(lengths.max())
        ids = torch.zeros(size, longest, dtype=torch.long)
        mask = torch.zeros(size, longest, dtype=torch.long)
        for row, length in enumerate(lengths.tolist()):
            words = torch.randint(1000, vocabulary, (length - 2,), generator=generator)
            ids[row, :length] = torch.cat([torch.tensor([101]), words, torch.tensor([102])])
            mask[row, :length] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if model.config.model_type == "bert":
            batch["token_type_ids"] = (torch.arange(longest) >= longest // 2).long().expand(size, longest) * mask
        if is_masked_lm(model):
            labels = torch.full_like(ids, -100)
            chosen = (torch.rand(ids.shape, generator=generator) < 0.3) & (mask == 1) & (ids != 101) & (ids != 102)
            labels[chosen] = ids[chosen]
            ids[chosen] = 103  # [MASK]
        elif "TokenClassification" in type(model).__name__:
            labels = torch.randint(0, model.config.num_labels, ids.shape, generator=generator)
            labels[(mask == 0) | (ids == 101)] = -100
        else:
            labels = torch.randint(0, model.config.num_labels, (size,), generator=generator)
        batch["labels"] = labels
        batches.append(batch)
    return batches


def make(out, case, tokenizer_dir, seed):
    architecture, sizes, runs = CASES[case]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    config = transformers.AutoConfig.for_model(
        **sizes, vocab_size=30522, max_position_embeddings=64, pad_token_id=0, architectures=[architecture],
        **({"dropout": 0.0, "attention_dropout": 0.0, "seq_classif_dropout": 0.0} if sizes["model_type"] == "distilbert"
           else {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}))
    config._attn_implementation = "eager"  # attention probabilities are recorded
    model = getattr(transformers, architecture)(config)
    perturb(model, generator)
    os.makedirs(f"{out}/checkpoint", exist_ok=True)
    model.save_pretrained(f"{out}/checkpoint")
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(f"{out}/checkpoint")
    batches = random_batches(model, 3 if runs else 1, generator, config.vocab_size)
    used = torch.unique(torch.cat([b["input_ids"].flatten() for b in batches]))
    save_file({f"batch{i}.{k}": v.contiguous() for i, b in enumerate(batches) for k, v in b.items()},
              f"{out}/train_batches.safetensors")
    tensors = forward_backward(model, batches[0], used)
    save_file({k: v.contiguous() for k, v in tensors.items()}, f"{out}/forward_backward.safetensors")
    meta = {"config": config.to_dict(), "train_spec": TRAIN_SPEC}
    for run in runs:
        after, log = train(load(f"{out}/checkpoint"), batches, run == "frozen", used)
        name = "after_full_finetune" if run == "full" else "after_frozen_base_head"
        save_file({k: v.contiguous() for k, v in after.items()}, f"{out}/{name}.safetensors")
        meta["full_finetune_log" if run == "full" else "frozen_base_log"] = log
    with open(f"{out}/meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    with open(f"{os.path.dirname(os.path.abspath(out))}/versions.json", "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__}, f)
    print(f"wrote {out} ({architecture}, seed {seed}, transformers {transformers.__version__})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check")
    check_parser.add_argument("golden_dir")
    make_parser = commands.add_parser("make")
    make_parser.add_argument("out")
    make_parser.add_argument("--case", choices=sorted(CASES), required=True)
    make_parser.add_argument("--tokenizer", required=True)
    make_parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    if args.command == "check":
        sys.exit(check(args.golden_dir))
    make(args.out, args.case, args.tokenizer, args.seed)


if __name__ == "__main__":
    main()
