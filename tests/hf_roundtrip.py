#!/usr/bin/env python3
"""Round trips between graft and Hugging Face transformers, both ways (run by run_with_reference_python.sh):

1. A folder written by `graft train` loads with AutoModelForSequenceClassification and AutoTokenizer, and
   transformers computes graft's token ids and graft's class probabilities.
2. A model fine-tuned by transformers (a new head on the tiny BERT fixture, a few AdamW steps) and saved with
   save_pretrained gives transformers' probabilities in `graft predict`.

Usage: hf_roundtrip.py GRAFT_CLI REPO_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

TEXTS = ["the quick brown fox", "hello world !", "the lazy dog is not what it was", "play with the dog"]
# fp32 on both sides; the sums differ in order only (the goldens' forward bound is 1e-4 on logits).
TOLERANCE = 1e-5


def graft(cli, *args):
    return subprocess.run([cli, *args], check=True, capture_output=True, text=True).stdout


def graft_probabilities(cli, model_dir, labels):
    lines = graft(cli, "predict", "--model", model_dir, "--top-k", "all", "--json", *TEXTS).splitlines()
    rows = []
    for line in lines:
        scores = {entry["label"]: entry["score"] for entry in json.loads(line)["labels"]}
        rows.append([scores[label] for label in labels])
    return torch.tensor(rows, dtype=torch.float64)


def hf_probabilities(model, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        return torch.softmax(model(**batch).logits, dim=-1).double()


def labels_of(model):
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


def check(name, graft_side, hf_side):
    worst = (graft_side - hf_side).abs().max().item()
    print(f"{name}: max |graft - transformers| = {worst:.2g} (bound {TOLERANCE})")
    if not worst <= TOLERANCE:
        sys.exit(f"FAIL: {name}")


def graft_to_hf(cli, repo, work):
    data = f"{work}/train.jsonl"
    with open(data, "w", encoding="utf-8") as out:
        for i, text in enumerate(TEXTS * 4):
            out.write(json.dumps({"text": text, "label": ["animal", "greeting"][i % 2]}) + "\n")
    folder = f"{work}/graft-trained"
    graft(cli, "train", "--model", f"{repo}/tests/fixtures/tiny-distilbert", "--train", data, "--output", folder,
          "--stage", "freeze=none,epochs=2,lr=1e-2", "--batch-size", "4", "--seed", "7", "--no-progress",
          "--eval-strategy", "no")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    for text in TEXTS:
        ids = json.loads(graft(cli, "tokenize", "--model", folder, "--json", text))["input_ids"]
        if ids != tokenizer(text)["input_ids"]:
            sys.exit(f"FAIL: token ids of {text!r}: graft {ids}, transformers {tokenizer(text)['input_ids']}")
    print(f"graft -> transformers: token ids equal for {len(TEXTS)} texts")
    check("graft -> transformers, probabilities", graft_probabilities(cli, folder, labels_of(model)),
          hf_probabilities(model, tokenizer))


def hf_to_graft(cli, repo, work):
    torch.manual_seed(7)
    base = f"{repo}/tests/fixtures/tiny-bert"
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2},
        ignore_mismatched_sizes=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    for _ in range(3):
        loss = model(**batch, labels=torch.tensor([0, 1, 2, 1])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    folder = f"{work}/hf-trained"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    check("transformers -> graft, probabilities", graft_probabilities(cli, folder, labels_of(model)),
          hf_probabilities(model, tokenizer))


def main():
    cli, repo, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    graft_to_hf(cli, repo, work)
    hf_to_graft(cli, repo, work)


if __name__ == "__main__":
    main()
