// graft init --config CONFIG.json --tokenizer DIR --output DIR: a randomly initialised model folder (the
// weights as transformers' _init_weights draws them), e.g. for tests and for training from scratch.
#include <iostream>
#include <memory>

#include "command.h"
#include "graft/core/error.h"
#include "graft/io/file.h"
#include "graft/models/config.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft::cli {
namespace {

struct InitOptions {
  std::string config;
  std::string tokenizer;
  std::string output;
  std::string task;  // empty: the head that config.json's "architectures" names
  uint64_t seed = 42;
};

void run_init(const InitOptions& options) {
  const ModelConfig config = ModelConfig::from_file(options.config);
  const TaskHead task = options.task.empty() ? head_from_architectures(config) : parse_task_head(options.task);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(options.tokenizer);
  check(tokenizer.vocab_size() <= config.vocab_size, "init",
        "the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " tokens but config.json's vocab_size is " +
            std::to_string(config.vocab_size));
  const auto model = Model::from_config(config, task, options.seed);
  write_folder_atomically(options.output, [&](const std::string& dir) {
    model->save_pretrained(dir);
    tokenizer.save_pretrained(dir);
  });
  std::cout << options.output << '\n';
}

void add_init_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("init", "Write a randomly initialised model folder from a config.json and a tokenizer");
  auto options = std::make_shared<InitOptions>();
  command->add_option("--config", options->config, "config.json (model_type, sizes, id2label, problem_type)")
      ->required();
  command->add_option("--tokenizer", options->tokenizer, "Folder with the tokenizer (vocab.txt or tokenizer.json)")
      ->required();
  command->add_option("--output", options->output, "The model folder to write")->required();
  command->add_option("--task", options->task,
                      "sequence-classification, token-classification, masked-lm, question-answering or base "
                      "(default: from config.json's architectures)");
  command->add_option("--seed", options->seed, "Seed of the random initialisation");
  command->callback([options] { run_init(*options); });
}

const Registration kInit{"init", 50, add_init_command};

}  // namespace
}  // namespace graft::cli
