#!/usr/bin/env python3
"""The Hugging Face peer of one graft results row: fine-tunes every weight of a base model with
transformers' Trainer and torch, on the recipe scripts/results.py gives graft, and predicts a test set.
Tooling only (run with the reference environment, scripts/install-deps.sh --reference); graft never runs it.

    hf_fine_tune.py --model DIR --train TRAIN.jsonl --test TEST.jsonl --output OUT.json
                    --max-length 64 --batch-size 32 --epochs 2 --lr 1e-4 --seed 42

TRAIN and TEST hold {"text", "label"} lines (results.py writes them from the data set, as graft reads it).
OUT.json gets the predicted label of every test example, the training time and the training throughput."""
import argparse
import json
import os
import time

import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainingArguments, set_seed)


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class Encoded(torch.utils.data.Dataset):
    """Token ids (truncated, unpadded) and label ids; the collator pads each batch to its longest example."""

    def __init__(self, tokenizer, rows, label_ids, max_length):
        self.features = tokenizer([row["text"] for row in rows], truncation=True, max_length=max_length)
        self.labels = [label_ids[row["label"]] for row in rows]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {key: values[i] for key, values in self.features.items()}
        item["labels"] = self.labels[i]
        return item


def length_grouped():
    """transformers' LengthGroupedSampler, named group_by_length=True before 5.x's train_sampling_strategy."""
    if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--model", "--train", "--test", "--output"):
        parser.add_argument(name, required=True)
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count())
    set_seed(args.seed)
    train_rows, test_rows = read_jsonl(args.train), read_jsonl(args.test)
    labels = sorted({row["label"] for row in train_rows})
    label_ids = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_ids)
    train = Encoded(tokenizer, train_rows, label_ids, args.max_length)
    # graft's defaults, which are transformers' own: AdamW (0.9, 0.999, 1e-8), no weight decay, linear decay
    # without warmup, gradients clipped at norm 1, batches of similar length.
    training_args = TrainingArguments(
        output_dir=os.path.join(os.path.dirname(args.output), "hf-trainer"), per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs, learning_rate=args.lr, lr_scheduler_type="linear", weight_decay=0.0,
        max_grad_norm=1.0, seed=args.seed, save_strategy="no", eval_strategy="no",
        report_to=[], use_cpu=True, logging_strategy="no", disable_tqdm=True, **length_grouped())
    trainer = Trainer(model=model, args=training_args, train_dataset=train,
                      data_collator=DataCollatorWithPadding(tokenizer))
    started = time.time()
    metrics = trainer.train().metrics
    seconds = time.time() - started

    model.eval()
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(test_rows), 64):
            texts = [row["text"] for row in test_rows[start:start + 64]]
            batch = tokenizer(texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
            predictions += [labels[i] for i in model(**batch).logits.argmax(-1).tolist()]
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump({"predictions": predictions, "seconds": seconds,
                   "samples_per_second": metrics["train_samples_per_second"],
                   "versions": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}"},
                  out)


if __name__ == "__main__":
    main()
