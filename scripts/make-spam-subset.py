#!/usr/bin/env python3
"""Copies the CC0 SpamAssassin subset that graft ships (examples/data/spamassassin/) out of
../shared/data/spamassassin/spamassassin.jsonl: 3,000 messages drawn in proportion to the corpus's five
groups (easy/hard ham, two spam collections), each cut to its first ~1,200 characters at a word boundary
(the models read at most 128 tokens), split 80/20 by label with a fixed seed. A data-preparation step
only: graft itself never runs Python."""
import json
import random
import sys
from collections import defaultdict

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/spamassassin/spamassassin.jsonl"
TARGET = "examples/data/spamassassin"
TOTAL, TEST_SHARE, MAX_CHARS, SEED = 3000, 0.2, 1200, 13


def cut(text):
    if len(text) <= MAX_CHARS:
        return text
    space = text.rfind(" ", 0, MAX_CHARS)
    return text[: space if space > MAX_CHARS // 2 else MAX_CHARS]


rows = [json.loads(line) for line in open(SOURCE, encoding="utf-8")]
by_group = defaultdict(list)
for row in rows:
    by_group[row["group"]].append(row)
rng = random.Random(SEED)
chosen = []
for group in sorted(by_group):
    members = by_group[group]
    chosen += rng.sample(members, round(TOTAL * len(members) / len(rows)))
by_label = defaultdict(list)
for row in chosen:
    by_label[row["label"]].append(row)
train, test = [], []
for label in sorted(by_label):
    members = by_label[label]
    rng.shuffle(members)
    held_out = round(len(members) * TEST_SHARE)
    test += members[:held_out]
    train += members[held_out:]
for name, part in (("train", train), ("test", test)):
    part.sort(key=lambda row: row["id"])
    with open(f"{TARGET}/{name}.jsonl", "w", encoding="utf-8") as out:
        for row in part:
            out.write(json.dumps({"text": cut(row["text"]), "label": row["label"], "group": row["group"],
                                  "id": row["id"]}, ensure_ascii=False) + "\n")
    print(name, len(part), {label: sum(r["label"] == label for r in part) for label in sorted(by_label)})
