// graft train: fine-tune a model on a labelled text file (or pre-tokenized batches), in one or more
// stages. The seed's transfer-learning workflow is two stages:
//   --stage "freeze=distilbert,epochs=3,lr=1e-3" --stage "freeze=none,epochs=2,lr=2e-5"
// The output folder is what save_pretrained writes, plus the tokenizer, training_args.json,
// trainer_state.json, log.jsonl and a model card (README.md).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "command.h"
#include "data_parallel.h"
#include "graft/core/error.h"
#include "graft/distributed/communicator.h"
#include "graft/io/hub.h"
#include "graft/train/fine_tune.h"

namespace graft::cli {
namespace {

struct TrainOptions {
  FineTuneRequest request;
  std::string freeze = "none";
  std::vector<std::string> stage_specs;
  std::string init = "pretrained";
  std::string device = "cpu";
  int nproc = 1;
};

void run_train(TrainOptions& options) {
  Communicator& ranks = command_ranks(options.nproc, "train");
  FineTuneRequest& request = options.request;
  request.device = device_option(options.device);
  check(options.init == "random" || options.init == "pretrained", "train", "--init must be pretrained or random");
  request.random_init = options.init == "random";
  request.model_dir = resolve_model_path(request.model);
  const TrainingStage defaults{options.freeze, request.args.epochs, request.args.learning_rate};
  for (const auto& spec : options.stage_specs) request.stages.push_back(parse_training_stage(spec, defaults));
  if (request.stages.empty()) request.stages.push_back(defaults);
  request.communicator = &ranks;
  FineTuneResult result;
  run_on_rank(ranks, [&] { result = fine_tune(request, [](const std::string& line) { std::cerr << line << '\n'; }); });
  if (ranks.rank() != 0) return;
  if (result.eval) std::cout << result.eval->table << '\n';
  std::cout << "Model, tokenizer, model card and logs written to " << request.output << '\n';
}

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand(
      "train",
      "Fine-tune a model (transfer learning: freeze, then unfreeze); under `mpirun -np N`, data-parallel "
      "over N processes with the result of one");
  command->add_option("--model", options->request.model, "Base model folder or Hub id ORG/NAME[@REV]")->required();
  command->add_option("--train", options->request.train_file, "Labelled training data (CSV, TSV, JSON lines)");
  command->add_option("--train-batches", options->request.train_batches,
                      "Pre-tokenized batches (batch{i}.input_ids, .attention_mask, .labels), step s uses batch s % n");
  command->add_option("--eval", options->request.eval_file, "Labelled evaluation data");
  command->add_option("--validation-split", options->request.validation_split,
                      "Hold out this fraction of --train (stratified) for evaluation when there is no --eval");
  command->add_option("--output", options->request.output, "Output folder (save_pretrained layout)")->required();
  add_reading_options(*command, options->request.read);
  command->add_option("--max-length", options->request.max_length, "Truncate texts to this many tokens")
      ->capture_default_str();
  command->add_option("--batch-size", options->request.batch_size, "Examples per batch")->capture_default_str();
  command->add_option("--pad-to-multiple-of", options->request.pad_to_multiple_of,
                      "Round padded lengths up to a multiple");
  command->add_flag("!--no-group-by-length", options->request.args.group_by_length,
                    "Shuffle freely instead of batching examples of similar length (which saves padding)");
  command->add_option("--epochs", options->request.args.epochs, "Epochs (per stage unless the stage says)")
      ->capture_default_str();
  add_optimization_options(*command, options->request.args);
  add_device_option(*command, options->device);
  command->add_option("--optimizer", options->request.args.optimizer, "adamw or sgd")->capture_default_str();
  command
      ->add_option("--freeze", options->freeze,
                   "Parameters to freeze: none, or comma-separated module patterns (distilbert, "
                   "distilbert.transformer.layer.[0-3])")
      ->capture_default_str();
  command->add_option("--stage", options->stage_specs,
                      "A training stage \"freeze=PATTERNS,epochs=N,lr=X\" (repeat for several; '+' joins patterns)");
  command->add_option("--layerwise-lr-decay", options->request.args.layerwise_lr_decay,
                      "Each layer below the head learns this factor slower (discriminative learning rates)");
  command->add_flag("--gradual-unfreezing", options->request.args.gradual_unfreezing,
                    "Unfreeze one more layer group from the top each epoch (ULMFiT)");
  command->add_flag("!--no-feature-cache", options->request.args.cache_frozen_features,
                    "With the base frozen, run it on every step (dropout on) instead of once per example");
  command->add_option("--dropout", options->request.dropout, "Override every dropout probability (0 for determinism)");
  command->add_option("--class-weights", options->request.class_weights,
                      "balanced, or one weight per label (w0,w1,...)");
  command->add_option("--init", options->init, "pretrained (default) or random (same architecture from scratch)");
  command->add_option("--eval-strategy", options->request.args.eval_strategy, "no, epoch or steps")
      ->capture_default_str();
  command->add_option("--eval-steps", options->request.args.eval_steps,
                      "Evaluate every N steps (with --eval-strategy steps)");
  command->add_option("--metric", options->request.args.metric_for_best_model, "Metric that picks the best checkpoint")
      ->capture_default_str();
  command->add_option("--early-stopping", options->request.args.early_stopping_patience,
                      "Stop after this many evaluations without improvement");
  command->add_option("--seed", options->request.args.seed, "Seed for initialisation, shuffling and dropout")
      ->capture_default_str();
  command->add_flag("--resume", options->request.resume, "Continue from the newest checkpoint in --output");
  add_nproc_option(*command, options->nproc);
  command->callback([options] { run_train(*options); });
}

const Registration kTrain{"train", 40, add_train_command};

}  // namespace
}  // namespace graft::cli
