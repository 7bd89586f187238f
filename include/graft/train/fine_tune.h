#pragma once
// The seed's workflow as one library call, for the CLI, a server or a launcher alike: load a base (grafting
// a new classification head when the data's labels call for one), train it in stages, each with its own
// frozen modules, epochs and learning rate (transfer learning: "freeze=bert,epochs=3,lr=1e-3", then
// "freeze=none,epochs=2,lr=2e-5"), evaluate, and write the run: the model in save_pretrained's layout, its
// tokenizer, training_args.json, trainer_state.json, log.jsonl and a model card (README.md).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graft/data/dataset.h"
#include "graft/train/evaluate.h"
#include "graft/train/trainer.h"

namespace graft {

struct TrainingStage {
  std::string freeze = "none";  // apply_freeze_spec's patterns, comma-separated
  int64_t epochs = 0;
  double learning_rate = 0.0;
};

// "freeze=distilbert,epochs=3,lr=1e-3": keys freeze, epochs and lr, each optional (defaults fills the rest).
// Freeze patterns are joined by '+' inside a stage ("freeze=bert.embeddings+bert.encoder.layer.[0-3]"),
// because ',' separates the keys. Throws graft::Error naming the spec and the key.
TrainingStage parse_training_stage(const std::string& spec, const TrainingStage& defaults);

// Per-class loss weights: "" none; "balanced" n_samples / (n_classes * count_c), as scikit-learn's; or one
// comma-separated weight per class. classes: the training examples' class ids.
std::vector<float> class_weights_for(const std::string& spec, const std::vector<int64_t>& classes, int64_t count);

struct FineTuneRequest {
  std::string model;          // the base as the user named it (a folder or a Hub id), for the card
  std::string model_dir;      // the folder it resolved to
  std::string train_file;     // labelled text (CSV, TSV, JSON lines, PhraseBank), or
  std::string train_batches;  // pre-tokenized batches (.safetensors, the goldens' format)
  std::string eval_file;      // optional; else validation_split of train_file when > 0
  double validation_split = 0.0;
  ReadOptions read;
  std::string output;  // the run's folder
  int64_t max_length = 128;
  int64_t batch_size = 16;
  int64_t pad_to_multiple_of = 0;
  std::vector<TrainingStage> stages;  // at least one
  std::optional<double> dropout;      // overrides every dropout probability
  bool random_init = false;           // the same architecture with fresh weights (from scratch)
  std::string class_weights;          // class_weights_for's spec
  bool resume = false;                // continue from the newest checkpoint in output
  Device device = kCpu;               // where the model trains
  // The ranks of a data-parallel run (Trainer::communicator): each computes its share of every batch; rank 0
  // alone reports progress and writes the output folder.
  Communicator* communicator = &single_process();
  TrainingArguments args;  // shared by the stages; each stage sets epochs, lr and output_dir
};

struct FineTuneResult {
  std::optional<EvalResult> eval;  // the final evaluation, when there was evaluation data
};

// Runs the request and writes the run into request.output. Progress (new heads, stages, evaluations) goes to
// `progress` (when set), a line at a time.
FineTuneResult fine_tune(const FineTuneRequest& request, const std::function<void(const std::string&)>& progress);

}  // namespace graft
