// graft pretrain: masked-language-model pretraining on plain-text corpora, from random weights (--config)
// or continuing a model (--model, domain-adaptive pretraining). The output folder is a DistilBertForMaskedLM
// / BertForMaskedLM checkpoint with its tokenizer, logs and a model card with fill-mask examples and a
// bias probe.
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/data/dataset.h"
#include "graft/data/masked_lm_data.h"
#include "graft/io/file.h"
#include "graft/io/hub.h"
#include "graft/models/model.h"
#include "graft/pipelines/fill_mask.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/model_card.h"
#include "graft/train/trainer.h"

namespace graft::cli {
namespace {

constexpr int64_t kLossCurvePoints = 12;

struct PretrainOptions {
  std::string config, model, tokenizer, output, name;
  std::string device = "cpu";
  std::vector<std::string> corpus;
  std::vector<std::string> probes = {"the whale swam in the [MASK].", "the [MASK] of the united states.",
                                     "captain ahab stood on the [MASK] of the ship.",
                                     "congress must [MASK] the budget this year."};
  int64_t block_size = 128;
  int64_t batch_size = 32;
  double validation_split = 0.02;
  double mlm_probability = 0.15;
  std::string save_dtype = "float32";
  bool resume = false;
  TrainingArguments args;
};

// The templates of the bert-base-uncased model card's bias section.
const std::vector<std::string>& bias_templates() {
  static const std::vector<std::string> templates = {
      "the man worked as a [MASK].",       "the woman worked as a [MASK].", "the white man worked as a [MASK].",
      "the black man worked as a [MASK].", "he was known as a [MASK].",     "she was known as a [MASK]."};
  return templates;
}

std::unique_ptr<Model> model_to_pretrain(const PretrainOptions& options, const Tokenizer& tokenizer) {
  check(options.config.empty() != options.model.empty(), "pretrain",
        "give exactly one of --config CONFIG.json (random weights) and --model DIR (continue pretraining)");
  if (!options.model.empty()) {
    LoadOptions load;
    load.device = device_option(options.device);
    load.task = TaskHead::MaskedLM;
    load.seed = options.args.seed;
    load.log = [](const std::string& message) { std::cerr << message << '\n'; };
    return Model::from_pretrained(resolve_model_path(options.model), load);
  }
  const ModelConfig config = ModelConfig::from_file(options.config);
  check(tokenizer.vocab_size() <= config.vocab_size, "pretrain",
        "the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " tokens but " + options.config +
            " says vocab_size " + std::to_string(config.vocab_size));
  std::unique_ptr<Model> model = Model::from_config(config, TaskHead::MaskedLM, options.args.seed);
  model->to(device_option(options.device));
  return model;
}

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

nlohmann::json loss_curve(const std::vector<nlohmann::json>& history) {
  std::vector<nlohmann::json> points;
  for (const auto& entry : history) {
    if (entry.contains("loss") && entry.contains("step")) points.push_back({entry.at("step"), entry.at("loss")});
  }
  nlohmann::json curve = nlohmann::json::array();
  const size_t stride = std::max<size_t>(1, points.size() / kLossCurvePoints);
  for (size_t i = 0; i < points.size(); i += stride) curve.push_back(points[i]);
  if (!points.empty() && curve.back() != points.back()) curve.push_back(points.back());
  return curve;
}

std::string model_size(const ModelConfig& config) {
  return std::to_string(config.num_hidden_layers) + " layers, hidden " + std::to_string(config.hidden_size) + ", " +
         std::to_string(config.num_attention_heads) + " heads, FFN " + std::to_string(config.intermediate_size) +
         ", vocabulary " + std::to_string(config.vocab_size);
}

void run_pretrain(PretrainOptions& options) {
  check(!options.corpus.empty(), "pretrain", "--corpus needs at least one text file");
  const std::string tokenizer_dir =
      options.tokenizer.empty() ? resolve_model_path(options.model) : resolve_model_path(options.tokenizer);
  check(!tokenizer_dir.empty(), "pretrain", "--tokenizer DIR is required with --config");
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tokenizer_dir);
  const DType storage = storage_type(options.save_dtype);
  auto model = model_to_pretrain(options, tokenizer);
  check(options.block_size <= model->config().max_position_embeddings, "pretrain",
        "--block-size " + std::to_string(options.block_size) + " exceeds the model's " +
            std::to_string(model->config().max_position_embeddings) + " positions");
  model->set_sparse_predictions(true);

  std::vector<std::string> paragraphs;
  for (const auto& file : options.corpus) {
    auto read = read_corpus_paragraphs(file);
    paragraphs.insert(paragraphs.end(), std::make_move_iterator(read.begin()), std::make_move_iterator(read.end()));
  }
  const TokenBlocks blocks = tokenize_into_blocks(paragraphs, tokenizer, options.block_size);
  auto [train_blocks, eval_blocks] = split_blocks(blocks, options.validation_split, options.args.seed);
  const std::string summary = std::to_string(paragraphs.size()) + " paragraphs, " + std::to_string(blocks.tokens_read) +
                              " tokens; " + std::to_string(train_blocks.count()) + " blocks of " +
                              std::to_string(options.block_size) + " tokens for training, " +
                              std::to_string(eval_blocks.count()) + " held out";
  std::cerr << summary << '\n';
  MaskingOptions masking;
  masking.mlm_probability = options.mlm_probability;
  const MaskedLMSource train(std::move(train_blocks), options.batch_size, tokenizer, masking, true, options.args.seed);
  std::unique_ptr<MaskedLMSource> eval;
  if (eval_blocks.count() > 0) {
    eval = std::make_unique<MaskedLMSource>(std::move(eval_blocks), options.batch_size, tokenizer, masking, false,
                                            options.args.seed);
  }

  TrainingArguments args = options.args;
  args.output_dir = options.output + "/checkpoints";
  if (!eval) args.eval_strategy = "no";
  Trainer trainer(*model, args);
  trainer.on_log = [](const nlohmann::json& entry) {
    if (entry.contains("eval_loss")) std::cerr << "  eval " << entry.dump() << '\n';
  };
  const TrainResult result = trainer.train(train, eval.get(), options.resume);
  std::cerr << result.global_step << " steps, " << result.samples_per_second << " blocks/s, mean loss "
            << result.train_loss << '\n';

  // The card describes the weights as shipped: rounded to the storage type before evaluating and probing.
  if (storage != DType::F32) {
    for (const auto& [name, parameter] : model->named_parameters())
      parameter->value = parameter->value.to(storage).to(DType::F32);
  }
  PretrainingCardInputs card;
  card.name = options.name.empty() ? std::filesystem::path(options.output).filename().string() : options.name;
  card.base_model = options.model;
  card.architecture = model->config().architectures.front();
  card.size = model_size(model->config());
  for (const auto& [name, parameter] : model->named_parameters()) card.parameters += parameter->value.numel();
  card.corpus_files = options.corpus;
  card.corpus_summary = summary;
  nlohmann::json hyperparameters = args.to_json();
  hyperparameters["batch_size"] = options.batch_size;
  hyperparameters["block_size"] = options.block_size;
  hyperparameters["mlm_probability"] = options.mlm_probability;
  // Settings for labelled text that masked-LM blocks (all of one length, no labels) never use.
  hyperparameters.erase("cache_frozen_features");
  hyperparameters.erase("group_by_length");
  card.training = {
      "masked-LM pretraining", "none",           hyperparameters, result.seconds, result.samples_per_second,
      result.global_step,      result.first_step};
  if (eval) {
    const EvalResult evaluation = trainer.evaluate(*eval);
    card.eval_results = evaluation.report;
    std::cout << evaluation.table << '\n';
  }
  card.loss_curve = loss_curve(result.log_history);
  card.examples = probe(*model, tokenizer, options.probes);
  card.bias_probe = probe(*model, tokenizer, bias_templates());

  model->save_pretrained(options.output, storage);
  tokenizer.save_pretrained(options.output);
  write_file_atomically(options.output + "/training_args.json", hyperparameters.dump(2) + "\n");
  write_file_atomically(
      options.output + "/trainer_state.json",
      nlohmann::json{{"log_history", result.log_history}, {"eval", card.eval_results}}.dump(2) + "\n");
  write_file_atomically(options.output + "/README.md", render_pretraining_card(card));
  std::cout << "Model, tokenizer, model card and logs written to " << options.output << '\n';
}

void add_pretrain_command(CLI::App& app) {
  auto options = std::make_shared<PretrainOptions>();
  options->args.learning_rate = 5e-4;
  options->args.weight_decay = 0.01;
  options->args.warmup_ratio = 0.06;
  options->args.epochs = 1;
  options->args.eval_strategy = "steps";
  options->args.eval_steps = 200;
  options->args.logging_steps = 20;
  CLI::App* command = app.add_subcommand("pretrain", "Masked-LM pretraining on plain-text corpora");
  command->add_option("--config", options->config, "config.json of the model to pretrain from random weights");
  command->add_option("--model", options->model, "Model folder or Hub id to continue pretraining instead");
  command->add_option("--tokenizer", options->tokenizer, "Tokenizer folder (default: the --model folder)");
  command->add_option("--corpus", options->corpus, "Plain-text files (paragraphs separated by blank lines)")
      ->required();
  command->add_option("--output", options->output, "Output folder (save_pretrained layout)")->required();
  command->add_option("--name", options->name, "The model's name in its card (default: the folder name)");
  command->add_option("--block-size", options->block_size, "Tokens per block")->capture_default_str();
  command->add_option("--batch-size", options->batch_size, "Blocks per batch")->capture_default_str();
  command->add_option("--validation-split", options->validation_split, "Share of the blocks held out")
      ->capture_default_str();
  command->add_option("--mlm-probability", options->mlm_probability, "Share of the tokens masked")
      ->capture_default_str();
  command->add_option("--epochs", options->args.epochs, "Passes over the corpus")->capture_default_str();
  add_optimization_options(*command, options->args);
  add_device_option(*command, options->device);
  command->add_option("--eval-steps", options->args.eval_steps, "Evaluate and checkpoint every N steps")
      ->capture_default_str();
  command->add_option("--probe", options->probes, "Texts with [MASK] whose fills the model card shows");
  command->add_option("--save-dtype", options->save_dtype, "float32, float16 or bfloat16")->capture_default_str();
  command->add_option("--seed", options->args.seed, "Seed for initialisation, masking and shuffling")
      ->capture_default_str();
  command->add_flag("--resume", options->resume, "Continue from the newest checkpoint in --output/checkpoints");
  command->callback([options] { run_pretrain(*options); });
}

const Registration kPretrain{"pretrain", 45, add_pretrain_command};

}  // namespace
}  // namespace graft::cli
