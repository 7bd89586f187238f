// graft pretrain: masked-language-model pretraining on plain-text corpora, from random weights (--config)
// or continuing a model (--model, domain-adaptive pretraining); the workflow is train/pretrain.h's, this
// parses the options and passes in the fill-mask pipeline that probes the model for its card.
#include "graft/train/pretrain.h"

#include <iostream>
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "data_parallel.h"
#include "graft/core/error.h"
#include "graft/io/hub.h"
#include "graft/pipelines/fill_mask.h"

namespace graft::cli {
namespace {

struct PretrainOptions {
  PretrainRequest request;
  std::string tokenizer;
  std::string device = "cpu";
  std::string save_dtype = "float32";
  int nproc = 1;
};

DType storage_type(const std::string& name) {
  if (name == "float32") return DType::F32;
  if (name == "float16") return DType::F16;
  if (name == "bfloat16") return DType::BF16;
  throw Error("[pretrain] --save-dtype must be float32, float16 or bfloat16, not '" + name + "'");
}

std::vector<FillMaskProbe> probe(Model& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  FillMaskPipeline fill(model, tokenizer);
  const auto results = fill(texts);
  std::vector<FillMaskProbe> probes;
  for (size_t i = 0; i < texts.size(); ++i) {
    FillMaskProbe entry{texts[i], {}};
    for (const MaskFill& fill_of_mask : results[i].front())
      entry.fills.emplace_back(fill_of_mask.token_str, fill_of_mask.score);
    probes.push_back(std::move(entry));
  }
  return probes;
}

void run_pretrain(PretrainOptions& options) {
  Communicator& ranks = command_ranks(options.nproc, "pretrain");
  PretrainRequest& request = options.request;
  request.device = device_option(options.device);
  request.storage = storage_type(options.save_dtype);
  if (!request.model.empty()) request.model_dir = resolve_model_path(request.model);
  if (!options.tokenizer.empty()) request.tokenizer_dir = resolve_model_path(options.tokenizer);
  request.communicator = &ranks;
  PretrainResult result;
  run_on_rank(ranks,
              [&] { result = pretrain(request, probe, [](const std::string& line) { std::cerr << line << '\n'; }); });
  if (ranks.rank() != 0) return;
  if (result.eval) std::cout << result.eval->table << '\n';
  std::cout << "Model, tokenizer, model card and logs written to " << request.output << '\n';
}

void add_pretrain_command(CLI::App& app) {
  auto options = std::make_shared<PretrainOptions>();
  CLI::App* command = app.add_subcommand(
      "pretrain",
      "Masked-LM pretraining on plain-text corpora; under `mpirun -np N`, data-parallel over N processes with the "
      "result of one");
  command->add_option("--config", options->request.config, "config.json of the model to pretrain from random weights");
  command->add_option("--model", options->request.model, "Model folder or Hub id to continue pretraining instead");
  command->add_option("--tokenizer", options->tokenizer, "Tokenizer folder (default: the --model folder)");
  command->add_option("--corpus", options->request.corpus, "Plain-text files (paragraphs separated by blank lines)")
      ->required();
  command->add_option("--output", options->request.output, "Output folder (save_pretrained layout)")->required();
  command->add_option("--name", options->request.name, "The model's name in its card (default: the folder name)");
  command->add_option("--block-size", options->request.block_size, "Tokens per block")->capture_default_str();
  command->add_option("--batch-size", options->request.batch_size, "Blocks per batch")->capture_default_str();
  command->add_option("--validation-split", options->request.validation_split, "Share of the blocks held out")
      ->capture_default_str();
  command->add_option("--mlm-probability", options->request.mlm_probability, "Share of the tokens masked")
      ->capture_default_str();
  command->add_option("--epochs", options->request.args.epochs, "Passes over the corpus")->capture_default_str();
  add_optimization_options(*command, options->request.args);
  add_device_option(*command, options->device);
  command->add_option("--eval-steps", options->request.args.eval_steps, "Evaluate and checkpoint every N steps")
      ->capture_default_str();
  command->add_option("--probe", options->request.probes, "Texts with [MASK] whose fills the model card shows");
  command->add_option("--save-dtype", options->save_dtype, "float32, float16 or bfloat16")->capture_default_str();
  command->add_option("--seed", options->request.args.seed, "Seed for initialisation, masking and shuffling")
      ->capture_default_str();
  command->add_flag("--resume", options->request.resume, "Continue from the newest checkpoint in --output/checkpoints");
  add_nproc_option(*command, options->nproc);
  command->callback([options] { run_pretrain(*options); });
}

const Registration kPretrain{"pretrain", 45, add_pretrain_command};

}  // namespace
}  // namespace graft::cli
