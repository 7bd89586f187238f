// graft train: fine-tune a model on a labelled text file (or pre-tokenized batches), in one or more
// stages. The seed's transfer-learning workflow is two stages:
//   --stage "freeze=distilbert,epochs=3,lr=1e-3" --stage "freeze=none,epochs=2,lr=2e-5"
// The output folder is what save_pretrained writes, plus the tokenizer, training_args.json,
// trainer_state.json, log.jsonl and a model card (README.md).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli_common.h"
#include "command.h"
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

// graft train --nproc N: this very command again, under mpirun with N ranks and the cores split between them.
[[noreturn]] void relaunch_under_mpirun(int processes) {
  std::ifstream saved("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> arguments;
  for (std::string argument; std::getline(saved, argument, '\0');) arguments.push_back(argument);
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / processes);
  std::vector<std::string> command = {"mpirun", "-np", std::to_string(processes), "--oversubscribe"};
  if (geteuid() == 0) command.emplace_back("--allow-run-as-root");
  command.insert(command.end(), {"-x", "OMP_NUM_THREADS=" + std::to_string(threads),
                                 std::filesystem::read_symlink("/proc/self/exe").string()});
  for (size_t i = 1; i < arguments.size(); ++i) {
    if (arguments[i] == "--nproc") {
      ++i;  // and its value
    } else if (arguments[i].rfind("--nproc=", 0) != 0) {
      command.push_back(arguments[i]);
    }
  }
  std::cerr << "graft train --nproc " << processes << ": " << processes << " ranks of " << threads
            << " threads each, under mpirun\n";
  std::vector<char*> argv;
  for (std::string& part : command) argv.push_back(part.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw Error(std::string("[train] --nproc needs Open MPI's mpirun on the PATH (scripts/install-deps.sh): ") +
              std::strerror(errno));
}

void run_train(TrainOptions& options) {
  check(options.nproc >= 1, "train", "--nproc must be at least 1, got " + std::to_string(options.nproc));
  if (options.nproc > 1) {
    check(world().world_size() == 1, "train", "--nproc starts mpirun itself: leave it out under mpirun");
    relaunch_under_mpirun(options.nproc);
  }
  FineTuneRequest& request = options.request;
  request.device = device_option(options.device);
  check(options.init == "random" || options.init == "pretrained", "train", "--init must be pretrained or random");
  request.random_init = options.init == "random";
  request.model_dir = resolve_model_path(request.model);
  const TrainingStage defaults{options.freeze, request.args.epochs, request.args.learning_rate};
  for (const auto& spec : options.stage_specs) request.stages.push_back(parse_training_stage(spec, defaults));
  if (request.stages.empty()) request.stages.push_back(defaults);
  // Under mpirun each process is a rank of one data-parallel run.
  Communicator& ranks = world();
  request.communicator = &ranks;
  FineTuneResult result;
  try {
    result = fine_tune(request, [](const std::string& line) { std::cerr << line << '\n'; });
  } catch (const std::exception& error) {
    if (ranks.world_size() == 1) throw;
    std::cerr << "graft: " << ranks.message_prefix() << error.what() << '\n';
    ranks.abort(1);  // the other ranks would wait for this one in their next sum
  }
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
  command
      ->add_option("--nproc", options->nproc,
                   "Data-parallel over N local processes (started through mpirun, the cores split between them)")
      ->capture_default_str();
  command->callback([options] { run_train(*options); });
}

const Registration kTrain{"train", 40, add_train_command};

}  // namespace
}  // namespace graft::cli
