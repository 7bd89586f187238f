#!/usr/bin/env python3
"""Regenerates results/README.md: graft on the default pretrained base (models/all-MiniLM-L6-v2, installed by
scripts/fetch-base-model.sh) with a new head on the frozen base, two-stage and full fine-tuning, against the
same architecture trained from scratch (`graft train --init random`), against fastText, and against Hugging
Face transformers + torch fine-tuning the same base on the same recipe, on Financial PhraseBank, SST-2, AG News
and SpamAssassin. Every row uses the same recipe and splits; graft's figures are read back from
`graft evaluate --json`. Tooling only: graft itself never runs Python.

    scripts/results.py [--shared ../shared] [--quick]

GRAFT_RESULTS_MODEL=DIR runs it on another base model. The Hugging Face rows need the reference environment
(scripts/install-deps.sh --reference makes .venv-reference; GRAFT_REFERENCE_PYTHON names another Python);
without it they are left out, and the report says so. Each graft row is kept in out/results/ with a key made of
its command line, the model's weights and the graft binary; a rerun reuses the rows whose key still matches.

--quick trains on the first 300 examples of each set and tests on the first 200 (checks the plumbing in
about a minute; its figures mean nothing)."""
import argparse
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAFT = os.path.join(ROOT, "build", "graft")
MODEL = os.environ.get("GRAFT_RESULTS_MODEL", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
OUT = os.path.join(ROOT, "out", "results")
REFERENCE_PYTHON = os.environ.get("GRAFT_REFERENCE_PYTHON", os.path.join(ROOT, ".venv-reference", "bin", "python"))

# The recipe shared by every row.
MAX_LENGTH, BATCH, SEED = 64, 32, 42
# The two small data sets are also trained with these seeds (two-stage and from scratch), for the spread.
SPREAD_SEEDS = (43, 44)
SPREAD_DATASETS = ("Financial PhraseBank", "SpamAssassin")
# Every data set again with only its first FEW_LABELS training examples (same test set): where labels are scarce.
FEW_LABELS = 500
# The base model's parameters are named after its family ("bert.encoder...", "distilbert.transformer...").
BASE = json.load(open(os.path.join(MODEL, "config.json"), encoding="utf-8"))["model_type"] if os.path.exists(
    os.path.join(MODEL, "config.json")) else "bert"
FROZEN = f"freeze={BASE},epochs=20,lr=3e-2"  # transfer learning: only the new head, on features computed once
HEAD = f"freeze={BASE},epochs=1,lr=1e-3"     # two-stage: a head-only epoch first, then FULL
FULL = "freeze=none,epochs=2,lr=1e-4"        # everything at a low learning rate: the budget of SCRATCH
SCRATCH = "freeze=none,epochs=2,lr=1e-4"     # random weights: the same architecture, two full epochs
# SST-2's 60,614 training phrases would take most of the run's time on 2 cores: every row trains on its first
# TRAIN_LIMIT["SST-2"] (the test set stays whole).
TRAIN_LIMIT = {"SST-2": 20000}
# The data sets that also get a Hugging Face row (transformers + torch, full fine-tune, the FULL recipe).
HUGGING_FACE_DATASETS = ("Financial PhraseBank", "SST-2")
FASTTEXT = ["-epoch", "25", "-lr", "0.5", "-wordNgrams", "2", "-dim", "50", "-seed", "1", "-thread", "2"]


def datasets(shared):
    data = os.path.join(shared, "data")
    return [
        ("Financial PhraseBank", f"{data}/financial_phrasebank/train.csv", f"{data}/financial_phrasebank/test.csv"),
        ("SST-2", f"{data}/sst2/train.tsv", f"{data}/sst2/dev.tsv"),
        ("AG News", f"{data}/ag_news/dev.tsv", f"{data}/ag_news/test.tsv"),
        ("SpamAssassin", f"{ROOT}/examples/data/spamassassin/train.jsonl",
         f"{ROOT}/examples/data/spamassassin/test.jsonl"),
    ]


def read_examples(path):
    """(text, label) pairs, read as graft's defaults read them (for fastText and --quick subsets)."""
    import csv
    if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        return [(row["text"], str(row["label"])) for row in rows]
    delimiter = "\t" if path.endswith(".tsv") else ","
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE))
    header = rows[0]
    if "label" in header:
        label = header.index("label")
        text = header.index("sentence") if "sentence" in header else header.index("text")
        rows = rows[1:]
    else:
        text, label = 0, len(header) - 1
    return [(row[text], row[label]) for row in rows]


def write_subset(path, limit, target):
    """The first `limit` examples of a data file in its own format."""
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
            for i, line in enumerate(source):
                if i >= limit:
                    break
                out.write(line)
        return target
    with open(path, encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
        lines = source.readlines()
        has_header = lines[0].lower().startswith(("label,", "sentence\t"))
        out.writelines(lines[: limit + (1 if has_header else 0)])
    return target


def run(command):
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result, time.time() - started


def samples_per_second(stderr):
    return [float(value) for value in re.findall(r"steps, ([0-9.e+]+) samples/s", stderr)]


@functools.lru_cache(maxsize=None)  # the model and the binary are hashed once a run, not once a row
def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_row(key, path):
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        return saved["row"] if saved["key"] == key else None
    except (OSError, ValueError, KeyError):
        return None


def graft_row(name, train, test, stages, init, out, seed=SEED):
    command = [GRAFT, "train", "--model", MODEL, "--train", train, "--output", out, "--max-length", str(MAX_LENGTH),
               "--batch-size", str(BATCH), "--seed", str(seed), "--eval-strategy", "no", "--no-progress", "--init", init]
    for stage in stages:
        command += ["--stage", stage]
    key = hashlib.sha256(json.dumps([command, file_digest(os.path.join(MODEL, "model.safetensors")),
                                     file_digest(GRAFT), file_digest(train), file_digest(test)]).encode()).hexdigest()
    return kept_or_measured(name, key, out, lambda: train_and_evaluate(name, command, test, out))


def kept_or_measured(name, key, out, measure):
    """The row kept in OUT.json under `key` by an earlier run, else measure() (then kept for the next run)."""
    row = cached_row(key, f"{out}.json")
    if row is not None:
        print(f"  {name}: accuracy {row['accuracy']:.4f}, macro-F1 {row['macro_f1']:.4f} (kept from an earlier run)")
        return row
    row = measure()
    with open(f"{out}.json", "w", encoding="utf-8") as handle:
        json.dump({"key": key, "row": row}, handle)
    return row


def train_and_evaluate(name, command, test, out):
    trained, seconds = run(command)
    evaluated, _ = run([GRAFT, "evaluate", "--model", out, "--data", test, "--max-length", str(MAX_LENGTH), "--json"])
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    rates = samples_per_second(trained.stderr)
    print(f"  {name}: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, {seconds:.0f} s", flush=True)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "seconds": seconds,
            "samples_per_second": " / ".join(f"{rate:.0f}" for rate in rates)}


def fasttext_tokens(text):
    return " ".join(re.findall(r"[\w']+|[^\w\s]", text.lower()))


def accuracy_and_macro_f1(truth, predicted):
    return sum(t == p for t, p in zip(truth, predicted)) / len(truth), macro_f1(truth, predicted)


def macro_f1(truth, predicted):
    scores = []
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def fasttext_row(train, test, out):
    os.makedirs(out, exist_ok=True)
    for role, path in (("train", train), ("test", test)):
        with open(f"{out}/{role}.txt", "w", encoding="utf-8") as handle:
            for text, label in read_examples(path):
                handle.write(f"__label__{label.replace(' ', '_')} {fasttext_tokens(text)}\n")
    _, seconds = run(["fasttext", "supervised", "-input", f"{out}/train.txt", "-output", f"{out}/model"] + FASTTEXT)
    predicted, _ = run(["fasttext", "predict", f"{out}/model.bin", f"{out}/test.txt"])
    guesses = predicted.stdout.split()
    truth = [line.split(" ", 1)[0] for line in open(f"{out}/test.txt", encoding="utf-8")]
    accuracy, f1 = accuracy_and_macro_f1(truth, guesses)
    examples = sum(1 for _ in open(f"{out}/train.txt", encoding="utf-8"))
    print(f"  fastText: accuracy {accuracy:.4f}, macro-F1 {f1:.4f}, {seconds:.0f} s", flush=True)
    return {"accuracy": accuracy, "macro_f1": f1, "seconds": seconds,
            "samples_per_second": f"{examples * 25 / seconds:.0f}"}


def cpu_name():
    for line in open("/proc/cpuinfo", encoding="utf-8"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


# Row names, in the order of each data set's table.
FULL_ROW = "pretrained, full fine-tune (2 epochs)"
HF_ROW = "Hugging Face transformers + torch, full fine-tune (2 epochs)"
FROZEN_ROW = "pretrained, frozen base + head (20 epochs on cached features)"
TWO_STAGE_ROW = "pretrained, two-stage (head 1 epoch, then all 2)"
SCRATCH_ROW = "from scratch (random weights, 2 epochs)"
FASTTEXT_ROW = "fastText (bigrams, 25 epochs)"


def reference_python():
    """The Python with transformers and torch, or None (the Hugging Face rows are then left out)."""
    if not os.path.exists(REFERENCE_PYTHON):
        return None
    probe = subprocess.run([REFERENCE_PYTHON, "-c", "import transformers, torch, accelerate"], capture_output=True)
    return REFERENCE_PYTHON if probe.returncode == 0 else None


def write_jsonl(path, target):
    with open(target, "w", encoding="utf-8") as out:
        for text, label in read_examples(path):
            out.write(json.dumps({"text": text, "label": label}) + "\n")
    return target


def hugging_face_command(python, train, test, out):
    """scripts/hf_fine_tune.py's command line for one row, and the key its cached row is kept under."""
    epochs, lr = re.search(r"epochs=(\d+),lr=([0-9.e-]+)", FULL).groups()
    script = os.path.join(ROOT, "scripts", "hf_fine_tune.py")
    command = [python, script, "--model", MODEL, "--train", f"{out}-train.jsonl", "--test", f"{out}-test.jsonl",
               "--output", f"{out}.predictions.json",
               "--max-length", str(MAX_LENGTH), "--batch-size", str(BATCH), "--epochs", epochs, "--lr", lr,
               "--seed", str(SEED)]
    key = hashlib.sha256(json.dumps([command, file_digest(os.path.join(MODEL, "model.safetensors")),
                                     file_digest(script), file_digest(train), file_digest(test)]).encode()).hexdigest()
    return command, key


def hugging_face_metrics(test, predictions):
    with open(predictions, encoding="utf-8") as handle:
        report = json.load(handle)
    truth = [label for _, label in read_examples(test)]
    accuracy, f1 = accuracy_and_macro_f1(truth, report["predictions"])
    print(f"  Hugging Face: accuracy {accuracy:.4f}, macro-F1 {f1:.4f}, {report['seconds']:.0f} s", flush=True)
    return {"accuracy": accuracy, "macro_f1": f1, "seconds": report["seconds"],
            "samples_per_second": f"{report['samples_per_second']:.0f}", "versions": report["versions"]}


def hugging_face_row(python, train, test, out):
    """transformers' Trainer fine-tuning every weight of the same base on the FULL recipe (scripts/hf_fine_tune.py)."""
    command, key = hugging_face_command(python, train, test, out)

    def measure():
        write_jsonl(train, f"{out}-train.jsonl")
        write_jsonl(test, f"{out}-test.jsonl")
        run(command)
        return hugging_face_metrics(test, f"{out}.predictions.json")

    return kept_or_measured("Hugging Face", key, out, measure)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for path, fix in ((GRAFT, "run scripts/build.sh"), (MODEL, "run scripts/fetch-base-model.sh")):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: {fix} first")
    if subprocess.run(["which", "fasttext"], capture_output=True).returncode != 0:
        sys.exit("fastText is missing: apt-get install fasttext ")
    python = reference_python()
    if python is None:
        print(f"No reference environment at {REFERENCE_PYTHON} (scripts/install-deps.sh --reference): "
              "the Hugging Face rows are left out", flush=True)
    os.makedirs(OUT, exist_ok=True)
    started = time.time()
    results = []
    for name, train, test in datasets(args.shared):
        if not os.path.exists(train):
            sys.exit(f"{train} is missing: the report needs ../shared/data next to the clone")
        slug = re.sub(r"\W+", "-", name.lower())
        extension = os.path.splitext(train)[1]
        source = train
        if args.quick:
            train = write_subset(train, 300, f"{OUT}/{slug}-train{extension}")
            test = write_subset(test, 200, f"{OUT}/{slug}-test{extension}")
        elif name in TRAIN_LIMIT:
            train = write_subset(train, TRAIN_LIMIT[name], f"{OUT}/{slug}-first{TRAIN_LIMIT[name]}{extension}")
        print(name, flush=True)
        rows = {FULL_ROW: graft_row("full", train, test, [FULL], "pretrained", f"{OUT}/{slug}-full")}
        if python is not None and name in HUGGING_FACE_DATASETS:
            rows[HF_ROW] = hugging_face_row(python, train, test, f"{OUT}/{slug}-hugging-face")
        rows[FROZEN_ROW] = graft_row("frozen", train, test, [FROZEN], "pretrained", f"{OUT}/{slug}-frozen")
        rows[TWO_STAGE_ROW] = graft_row("two-stage", train, test, [HEAD, FULL], "pretrained", f"{OUT}/{slug}-two-stage")
        rows[SCRATCH_ROW] = graft_row("scratch", train, test, [SCRATCH], "random", f"{OUT}/{slug}-scratch")
        rows[FASTTEXT_ROW] = fasttext_row(train, test, f"{OUT}/{slug}-fasttext")
        spread = {}
        if name in SPREAD_DATASETS:
            for seed in SPREAD_SEEDS:
                spread[("two-stage", seed)] = graft_row(f"two-stage seed {seed}", train, test, [HEAD, FULL],
                                                        "pretrained", f"{OUT}/{slug}-two-stage-seed{seed}", seed)
                spread[("scratch", seed)] = graft_row(f"scratch seed {seed}", train, test, [SCRATCH], "random",
                                                      f"{OUT}/{slug}-scratch-seed{seed}", seed)
        few_train = write_subset(train, FEW_LABELS, f"{OUT}/{slug}-first{FEW_LABELS}{extension}")
        few = {"pretrained, two-stage": graft_row(f"{FEW_LABELS} labels, two-stage", few_train, test, [HEAD, FULL],
                                                  "pretrained", f"{OUT}/{slug}-few-two-stage"),
               "from scratch": graft_row(f"{FEW_LABELS} labels, scratch", few_train, test, [SCRATCH], "random",
                                         f"{OUT}/{slug}-few-scratch"),
               "fastText": fasttext_row(few_train, test, f"{OUT}/{slug}-few-fasttext")}
        results.append((name, source, train, test, rows, spread, few))
        # Rewritten after every data set, so that an interrupted run keeps what it measured.
        write_report(results, time.time() - started, args.quick, python is not None)


def model_title():
    """The base model's card title ("# all-MiniLM-L6-v2"), or its folder name."""
    try:
        with open(os.path.join(MODEL, "README.md"), encoding="utf-8") as card:
            for line in card:
                if line.startswith("# "):
                    return line[2:].strip()
    except OSError:
        pass
    return os.path.basename(MODEL)


def points(a, b, metric):
    return f"{100 * (a[metric] - b[metric]):+.1f}"


def write_report(results, seconds, quick, with_hugging_face):
    versions = next((rows[HF_ROW]["versions"] for _, _, _, _, rows, _, _ in results if HF_ROW in rows), None)
    lines = ["# Results on real data", "",
             f"Produced by `scripts/results.py`{' --quick (plumbing check only)' if quick else ''} on "
             f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, {os.cpu_count()} cores, in {seconds / 60:.0f} minutes.", "",
             f"Model: `{os.path.relpath(MODEL, ROOT)}` ({model_title()}: pretrained for real, then trained on sentence "
             "pairs; installed by `scripts/fetch-base-model.sh`, see its SOURCE.md), with a new classification head "
             "(`BertForSequenceClassification`'s: the pooler's output, dropout, a linear layer). "
             "From scratch is `graft train --init random`: the same architecture and tokenizer with fresh weights.", "",
             f"Recipe for every graft row: max length {MAX_LENGTH} tokens, batch {BATCH} of examples of similar length "
             "(graft's default, transformers' `group_by_length`), AdamW with linear decay and no warmup, no weight "
             f"decay, gradients clipped at norm 1, seed {SEED}, no early stopping; "
             f"full fine-tune = `--stage \"{FULL}\"`; frozen base + head = `--stage \"{FROZEN}\"` (the base runs "
             "once per example, with dropout off, and the head trains on the stored vectors); "
             f"two-stage = `--stage \"{HEAD}\" --stage \"{FULL}\"`; "
             f"from scratch = `--stage \"{SCRATCH}\"`: full fine-tune, two-stage and from scratch all train every "
             "weight for the same two epochs. "
             f"fastText: `fasttext supervised {' '.join(FASTTEXT)}` on "
             "lower-cased text with punctuation split off. Samples/s is training throughput per stage "
             "(fastText: examples x epochs / training time); for a head stage on cached features it counts the head's "
             "steps only, while the training time includes the frozen base's one pass over the data.", ""]
    if with_hugging_face:
        lines += [f"Hugging Face rows ({versions or 'transformers and torch'}; `scripts/hf_fine_tune.py`, run with "
                  "the reference environment): `AutoModelForSequenceClassification` on the same base folder, "
                  "`Trainer` with the full fine-tune recipe above (the same optimizer, schedule, clipping, batch size, "
                  "length grouping, epochs and maximum length; `use_cpu`, torch on every core), tested on the same "
                  "test file. Its training time is `trainer.train()`'s; graft's is the whole `graft train` command "
                  "(loading, tokenizing and saving included). Its seed draws other random numbers than graft's, so the two rows differ by about as "
                  "much as two seeds do (see the seed spread).", ""]
    else:
        lines += ["No Hugging Face rows in this run: it found no reference environment "
                  "(`scripts/install-deps.sh --reference`).", ""]
    for name, source, train, test, rows, _, _ in results:
        subset = f"the first {TRAIN_LIMIT[name]:,} examples of " if name in TRAIN_LIMIT and train != source else ""
        lines += [f"## {name}", "",
                  f"Train {subset}`{os.path.relpath(source, ROOT)}`, test `{os.path.relpath(test, ROOT)}`.", "",
                  "| Run | Accuracy | Macro-F1 | Training time (s) | Samples/s |", "|---|---|---|---|---|"]
        for run_name, row in rows.items():
            lines.append(f"| {run_name} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | {row['seconds']:.0f} | "
                         f"{row['samples_per_second']} |")
        best = max((rows[FULL_ROW], rows[TWO_STAGE_ROW]), key=lambda row: row["accuracy"])
        best_name = "full fine-tune" if best is rows[FULL_ROW] else "two-stage"
        summary = (f"Best pretrained ({best_name}) minus from scratch: accuracy "
                   f"{points(best, rows[SCRATCH_ROW], 'accuracy')} points, macro-F1 "
                   f"{points(best, rows[SCRATCH_ROW], 'macro_f1')} points; minus fastText: accuracy "
                   f"{points(best, rows[FASTTEXT_ROW], 'accuracy')} points, macro-F1 "
                   f"{points(best, rows[FASTTEXT_ROW], 'macro_f1')} points.")
        if HF_ROW in rows:
            hf, full = rows[HF_ROW], rows[FULL_ROW]
            summary += (f" graft minus Hugging Face, full fine-tune: accuracy {points(full, hf, 'accuracy')} points, "
                        f"macro-F1 {points(full, hf, 'macro_f1')} points; graft trains "
                        f"{float(full['samples_per_second']) / float(hf['samples_per_second']):.2f}x as many samples/s.")
        lines += ["", summary, ""]
    lines += spread_section(results) + few_labels_section(results)
    target = os.path.join(OUT, "quick.md") if quick else os.path.join(ROOT, "results", "README.md")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def spread_section(results):
    """Two-stage and from scratch at seeds SEED and SPREAD_SEEDS, to show how much of a difference is noise."""
    seeds = (SEED,) + SPREAD_SEEDS
    lines = []
    for name, _, _, _, rows, spread, _ in results:
        if not spread:
            continue
        if not lines:
            lines = ["## Seed spread", "",
                     f"The two small data sets, trained again with seeds {', '.join(map(str, SPREAD_SEEDS))} (the seed "
                     "sets the head's initialisation, the shuffling and dropout; from scratch, also the weights). "
                     "Accuracy / macro-F1:", ""]
        lines += [f"### {name}", "", "| Run | " + " | ".join(f"seed {seed}" for seed in seeds) + " | mean |",
                  "|---|" + "---|" * (len(seeds) + 1)]
        means = {}
        for run_name, label in (("two-stage", TWO_STAGE_ROW), ("scratch", SCRATCH_ROW)):
            runs = [rows[label]] + [spread[(run_name, seed)] for seed in SPREAD_SEEDS]
            means[run_name] = [sum(run[metric] for run in runs) / len(runs) for metric in ("accuracy", "macro_f1")]
            cells = [f"{run['accuracy']:.4f} / {run['macro_f1']:.4f}" for run in runs]
            lines.append(f"| {run_name} | " + " | ".join(cells) +
                         f" | {means[run_name][0]:.4f} / {means[run_name][1]:.4f} |")
        lines += ["", f"Mean of pretrained two-stage minus from scratch: accuracy "
                  f"{100 * (means['two-stage'][0] - means['scratch'][0]):+.1f} points, macro-F1 "
                  f"{100 * (means['two-stage'][1] - means['scratch'][1]):+.1f} points.", ""]
    return lines


def few_labels_section(results):
    lines = ["## Few labels", "",
             f"Each data set with only the first {FEW_LABELS} examples of its training file (the same test set, "
             "recipe and seed). Accuracy / macro-F1:", "",
             "| Data set | pretrained, two-stage | from scratch | difference (points) | fastText |",
             "|---|---|---|---|---|"]
    for name, _, _, _, _, _, few in results:
        pretrained, scratch, fasttext = few["pretrained, two-stage"], few["from scratch"], few["fastText"]
        lines.append(f"| {name} | {pretrained['accuracy']:.4f} / {pretrained['macro_f1']:.4f} | "
                     f"{scratch['accuracy']:.4f} / {scratch['macro_f1']:.4f} | "
                     f"{100 * (pretrained['accuracy'] - scratch['accuracy']):+.1f} / "
                     f"{100 * (pretrained['macro_f1'] - scratch['macro_f1']):+.1f} | "
                     f"{fasttext['accuracy']:.4f} / {fasttext['macro_f1']:.4f} |")
    return lines + [""]


if __name__ == "__main__":
    main()
