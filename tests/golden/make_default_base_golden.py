#!/usr/bin/env python3
"""Hugging Face's own outputs for the default base model (sentence-transformers/all-MiniLM-L6-v2, as
scripts/fetch-base-model.sh installs it), for tests/parity/default_base_test.cpp: token ids, attention masks, the last
hidden states and the mean-pooled, L2-normalised sentence embeddings that sentence-transformers computes.

Run with the reference environment that `scripts/install-deps.sh --reference` makes:
    .venv-reference/bin/python tests/golden/make_default_base_golden.py [MODEL_DIR] [OUT]
Defaults: models/all-MiniLM-L6-v2 and tests/fixtures/default_base_golden.safetensors.
"""
import json
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer

TEXTS = [
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.",
    "Congratulations! You have been selected to receive a FREE cash prize.",
    "the whale swam in the sea.",
]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/default_base_golden.safetensors"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    embeddings = torch.nn.functional.normalize(mean, p=2, dim=1)
    metadata = {"texts": json.dumps(TEXTS), "transformers": transformers.__version__, "torch": torch.__version__,
                "model": "sentence-transformers/all-MiniLM-L6-v2"}
    save_file({"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
               "last_hidden_state": hidden.contiguous(), "embeddings": embeddings.contiguous()}, out, metadata)
    print(f"wrote {out}: {tuple(hidden.shape)} hidden states, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
