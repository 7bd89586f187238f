#pragma once
// graft pretrain as a library function: masked-LM pretraining on plain-text corpora, from random weights (a
// config) or continuing a model (domain-adaptive pretraining), that writes the run: a ...ForMaskedLM folder
// with its tokenizer, logs and a model card with fill-mask examples and a bias probe. The CLI parses options
// and calls it; a server or a launcher calls the same function.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/evaluate.h"
#include "graft/train/model_card.h"
#include "graft/train/trainer.h"

namespace graft {

// TrainingArguments for pretraining: lr 5e-4, weight decay 0.01, warmup 6%, one epoch, evaluation and
// checkpoints every 200 steps, a log line every 20.
TrainingArguments pretraining_arguments();

struct PretrainRequest {
  std::string config;               // config.json of a model to pretrain from random weights, or
  std::string model;                // the model to continue, as the user named it (for the card), and
  std::string model_dir;            // the folder it resolved to
  std::string tokenizer_dir;        // required with config; else model_dir
  std::vector<std::string> corpus;  // plain-text files, paragraphs separated by blank lines
  std::vector<std::string> probes = {"the whale swam in the [MASK].", "the [MASK] of the united states.",
                                     "captain ahab stood on the [MASK] of the ship.",
                                     "congress must [MASK] the budget this year."};  // whose fills the card shows
  std::string output;                                                                // the run's folder
  std::string name;  // the model's name in its card (default: the folder's name)
  int64_t block_size = 128;
  int64_t batch_size = 32;
  double validation_split = 0.02;
  double mlm_probability = 0.15;
  DType storage = DType::F32;  // of the saved weights; the card describes the weights as saved
  bool resume = false;         // continue from the newest checkpoint in output/checkpoints
  Device device = kCpu;
  TrainingArguments args = pretraining_arguments();
  // The ranks of a data-parallel run (Trainer::communicator): each computes its share of every batch; rank 0
  // alone logs and writes the run.
  Communicator* communicator = &single_process();
};

// The model's best fills of each text's [MASK]. The fill-mask pipeline is in the pipelines layer, above this
// one, so the caller passes it in.
using FillMaskProber =
    std::function<std::vector<FillMaskProbe>(Model&, const Tokenizer&, const std::vector<std::string>&)>;

struct PretrainResult {
  TrainResult train;
  std::optional<EvalResult> eval;  // on the held-out blocks, when there are any
};

// Runs the request and writes the run into request.output; progress lines go to `progress` (when set).
PretrainResult pretrain(const PretrainRequest& request, const FillMaskProber& probe,
                        const std::function<void(const std::string&)>& progress);

}  // namespace graft
