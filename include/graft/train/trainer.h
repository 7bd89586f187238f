#pragma once
// A training loop in the manner of Hugging Face's Trainer and Keras' fit(): epochs or a step budget,
// warmup and decay, clipping, accumulation, evaluation with metrics, the best checkpoint kept, early
// stopping, atomic checkpoints that resume exactly, a progress bar and JSON-lines logs.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graft/data/batch_source.h"
#include "graft/distributed/communicator.h"
#include "graft/models/model.h"
#include "graft/train/evaluate.h"
#include "graft/train/optimizer.h"

namespace graft {

struct TrainingArguments {
  std::string output_dir;  // checkpoints and log.jsonl go here; empty: nothing is written
  int64_t epochs = 3;
  int64_t max_steps = 0;  // > 0: stop after this many optimizer steps (overrides epochs)
  int64_t gradient_accumulation_steps = 1;
  std::string optimizer = "adamw";  // adamw | sgd
  double learning_rate = 5e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double momentum = 0.9;                // sgd
  std::string lr_scheduler = "linear";  // constant | constant_with_warmup | linear | cosine
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double max_grad_norm = 1.0;       // <= 0: no clipping
  double layerwise_lr_decay = 1.0;  // < 1: each layer below the head learns decay times slower
  bool gradual_unfreezing = false;  // ULMFiT: one more layer group from the top each epoch
  // With the encoder frozen, run it once per example and train the head on the stored features
  // (train/feature_cache.h). The encoder then sees no dropout; false runs it every step, as transformers.
  bool cache_frozen_features = true;
  // Batches of similar length (BatchOrder::GroupedByLength), so that little of each step is padding.
  // Read by whoever builds the training source (the CLI does); transformers' default is false.
  bool group_by_length = true;
  // bf16 mixed precision, transformers' bf16=True: matmuls in bf16, fp32 master weights, activations and loss
  // (core/autocast.h). Fast on CPUs with AVX512-BF16 or AMX; elsewhere the rounding is emulated, and slower.
  bool bf16 = false;
  std::string eval_strategy = "epoch";  // no | epoch | steps
  int64_t eval_steps = 0;
  std::string metric_for_best_model = "loss";
  int64_t early_stopping_patience = 0;  // evaluations without improvement before stopping; 0 = never
  bool load_best_model_at_end = true;
  int64_t save_total_limit = 2;  // checkpoints kept (the best is always kept)
  int64_t logging_steps = 10;
  uint64_t seed = 42;
  bool progress_bar = true;

  nlohmann::json to_json() const;
  bool greater_is_better() const;  // every metric but loss, mse, mae and perplexity
};

struct TrainResult {
  int64_t global_step = 0;
  int64_t first_step = 0;   // where a resumed run started; seconds and samples_per_second cover the steps after it
  double train_loss = 0.0;  // mean over the run
  double seconds = 0.0;
  double samples_per_second = 0.0;
  std::optional<EvalResult> best_eval;
  std::optional<EvalResult> last_eval;
  std::string best_checkpoint;
  bool stopped_early = false;
  std::vector<nlohmann::json> log_history;
};

class Trainer {
 public:
  // The model is trained in place; its parameters' trainable flags say what trains. For a Model, the
  // task, problem type and label names come from its config; a custom model passes them here.
  Trainer(TrainableModel& model, TrainingArguments args, TaskHead task = TaskHead::SequenceClassification,
          std::string problem_type = "", std::vector<std::string> label_names = {});

  // Trains; with resume, continues from the newest checkpoint in output_dir when there is one.
  TrainResult train(const BatchSource& train_data, const BatchSource* eval_data = nullptr, bool resume = false);
  EvalResult evaluate(const BatchSource& data);

  // Called with each log entry as it is made (the CLI prints them; tests collect them).
  std::function<void(const nlohmann::json&)> on_log;
  // Called with each checkpoint's folder before it moves into place: the workflows save the tokenizer there,
  // so a checkpoint is a model folder that predict and evaluate load.
  std::function<void(const std::string& dir)> save_alongside;
  // The ranks of a data-parallel run (training_step.h): every rank calls train() with the same data and takes
  // its share of each batch; rank 0 alone writes log.jsonl and the checkpoints, calls on_log and shows the
  // progress bar. A resumed run reads the checkpoint on every rank (a filesystem the ranks share).
  Communicator* communicator = &single_process();

 private:
  struct Run;
  std::unique_ptr<Optimizer> make_optimizer() const;
  void log(Run& run, nlohmann::json entry);
  bool evaluate_and_checkpoint(Run& run, const BatchSource* eval_data);
  void save_checkpoint(Run& run);
  std::string checkpoint_path(int64_t step) const;
  bool resume_from_latest(Run& run);

  TrainableModel& model_;
  TrainingArguments args_;
  TaskHead task_;
  std::string problem_type_;
  std::vector<std::string> label_names_;
};

// "Data-parallel: N ranks, ..." with the global batch (`batch`, e.g. "32", and the accumulation), for the log.
std::string data_parallel_summary(const Communicator& ranks, const std::string& batch, int64_t accumulation);

}  // namespace graft
