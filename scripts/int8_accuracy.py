#!/usr/bin/env python3
"""int8 against fp32 on the full recipe's fine-tuned models: the models scripts/results.py trains (out/results/
<data set>-full, the default base fine-tuned for two epochs), each evaluated on its test set in fp32 and with
`--int8` (graft's dynamic int8 quantisation), and their predictions compared one by one.

    scripts/int8_accuracy.py [--shared ../shared]

Prints accuracy and macro-F1 both ways (`graft evaluate --json`, max length 64 as the recipe) and the share of
test predictions that int8 leaves unchanged (`graft predict --json`). The bound issue 17 sets: accuracy within 0.5
points, at least 99% unchanged. tests/cli/int8_accuracy_test.cpp checks the same bound on a shortened recipe.
Tooling only: graft itself never runs Python.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import GRAFT, MAX_LENGTH, OUT, ROOT, datasets, read_examples  # noqa: E402


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-3000:]}")
    return result.stdout


def evaluated(model, test, int8):
    command = [GRAFT, "evaluate", "--model", model, "--data", test, "--max-length", str(MAX_LENGTH), "--json"]
    return json.loads(run(command + (["--int8"] if int8 else [])).strip().splitlines()[-1])


def predicted(model, texts_file, int8):
    command = [GRAFT, "predict", "--model", model, "--file", texts_file, "--json", "--top-k", "1"]
    lines = run(command + (["--int8"] if int8 else [])).strip().splitlines()
    return [json.loads(line)["labels"][0]["label"] for line in lines]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = parser.parse_args()
    print("| data set | fp32 accuracy / macro-F1 | int8 accuracy / macro-F1 | difference (points) | predictions unchanged |")
    print("|---|---|---|---|---|")
    for name, _, test in datasets(args.shared):
        model = os.path.join(OUT, name.lower().replace(" ", "-") + "-full")
        if not os.path.exists(os.path.join(model, "model.safetensors")):
            print(f"| {name} | no model at {model} (run scripts/results.py first) | | | |")
            continue
        fp32, int8 = evaluated(model, test, False), evaluated(model, test, True)
        texts = [text.replace("\n", " ").replace("\r", " ") for text, _ in read_examples(test)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as handle:
            handle.write("\n".join(texts) + "\n")
            handle.flush()
            before, after = predicted(model, handle.name, False), predicted(model, handle.name, True)
        unchanged = sum(a == b for a, b in zip(before, after)) / len(before)
        print(f"| {name} | {fp32['accuracy']:.4f} / {fp32['macro_f1']:.4f} | {int8['accuracy']:.4f} / "
              f"{int8['macro_f1']:.4f} | {100 * (int8['accuracy'] - fp32['accuracy']):+.2f} | "
              f"{unchanged:.4f} ({len(before)} texts) |")


if __name__ == "__main__":
    main()
