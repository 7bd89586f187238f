// graft params --model M [--freeze SPEC] [--depth N]: the model's parameter tree with trainable and frozen
// counts after a freeze spec, so that a pattern can be checked before a long training run.
#include <iostream>
#include <memory>

#include "command.h"
#include "graft/io/hub.h"
#include "graft/models/model.h"
#include "graft/train/freezing.h"

namespace graft::cli {
namespace {

struct ParamsOptions {
  std::string model;
  std::string freeze = "none";
  int depth = 4;
};

void run_params(const ParamsOptions& options) {
  auto model = Model::from_pretrained(resolve_model_path(options.model));
  apply_freeze_spec(*model, options.freeze);
  std::cout << parameter_tree(*model, options.depth);
}

void add_params_command(CLI::App& app) {
  auto* command = app.add_subcommand("params", "Show the parameter tree, trainable and frozen, after a freeze spec");
  auto options = std::make_shared<ParamsOptions>();
  command->add_option("--model", options->model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  command->add_option("--freeze", options->freeze,
                      "none, or comma-separated module patterns to freeze (distilbert, "
                      "distilbert.transformer.layer.[0-3].*, all)");
  command->add_option("--depth", options->depth, "Module levels to show")->check(CLI::PositiveNumber);
  command->callback([options] { run_params(*options); });
}

const Registration kParams{"params", 44, add_params_command};

}  // namespace
}  // namespace graft::cli
