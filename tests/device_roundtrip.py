# scripts/device-check.sh's round trip: the parameters of a folder that `graft train` wrote on the CPU against one it
# wrote on another device (same data and seed, dropout on), and the second loaded by transformers, whose
# probabilities must be graft's. Usage: device_roundtrip.py GRAFT_CLI CPU_FOLDER DEVICE_FOLDER DEVICE
import json
import subprocess
import sys
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer
graft_cli, on_cpu, on_device, device = sys.argv[1:5]
cpu, gpu = load_file(f"{on_cpu}/model.safetensors"), load_file(f"{on_device}/model.safetensors")
worst = max(((cpu[n] - gpu[n]).abs().max().item() / max(cpu[n].abs().max().item(), 1e-30), n) for n in cpu)
print(f"largest relative parameter difference after training: {worst[0]:.2e} ({worst[1]})")
model = AutoModelForSequenceClassification.from_pretrained(on_device).eval()
tokenizer = AutoTokenizer.from_pretrained(on_device)
text = "the quick brown fox jumps over the lazy dog"
with torch.no_grad():
    logits = model(**tokenizer(text, return_tensors="pt")).logits[0]
probabilities = torch.softmax(logits, -1)
graft = subprocess.run([graft_cli, "predict", "--device", device, "--model", on_device, "--top-k", "all",
                        "--json", text], capture_output=True, text=True, check=True).stdout
graft_scores = {entry["label"]: entry["score"] for entry in json.loads(graft)["labels"]}
reference = {model.config.id2label[i]: p for i, p in enumerate(probabilities.tolist())}
gap = max(abs(graft_scores[label] - p) for label, p in reference.items())
print(f"transformers {reference}\ngraft        {graft_scores}")
assert worst[0] < 1e-3, "CPU and GPU training diverged"
assert gap < 1e-5, f"graft's probabilities differ from transformers' by {gap:.1e}"
print(f"ok: parameters within {worst[0]:.1e} of the CPU's; transformers' probabilities within {gap:.1e} of graft's")
