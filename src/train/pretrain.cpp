#include "graft/train/pretrain.h"

#include <filesystem>

#include "graft/core/error.h"
#include "graft/data/dataset.h"
#include "graft/data/masked_lm_data.h"
#include "graft/io/file.h"

namespace graft {
namespace {

constexpr int64_t kLossCurvePoints = 12;

// The templates of the bert-base-uncased model card's bias section.
const std::vector<std::string>& bias_templates() {
  static const std::vector<std::string> templates = {
      "the man worked as a [MASK].",       "the woman worked as a [MASK].", "the white man worked as a [MASK].",
      "the black man worked as a [MASK].", "he was known as a [MASK].",     "she was known as a [MASK]."};
  return templates;
}

std::unique_ptr<Model> model_to_pretrain(const PretrainRequest& request, const Tokenizer& tokenizer,
                                         const std::function<void(const std::string&)>& log) {
  check(request.config.empty() != request.model_dir.empty(), "pretrain",
        "give exactly one of --config CONFIG.json (random weights) and --model DIR (continue pretraining)");
  if (!request.model_dir.empty()) {
    LoadOptions load;
    load.device = request.device;
    load.task = TaskHead::MaskedLM;
    load.seed = request.args.seed;
    load.log = log;
    return Model::from_pretrained(request.model_dir, load);
  }
  const ModelConfig config = ModelConfig::from_file(request.config);
  check(tokenizer.vocab_size() <= config.vocab_size, "pretrain",
        "the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " tokens but " + request.config +
            " says vocab_size " + std::to_string(config.vocab_size));
  std::unique_ptr<Model> model = Model::from_config(config, TaskHead::MaskedLM, request.args.seed);
  model->to(request.device);
  return model;
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

}  // namespace

TrainingArguments pretraining_arguments() {
  TrainingArguments args;
  args.learning_rate = 5e-4;
  args.weight_decay = 0.01;
  args.warmup_ratio = 0.06;
  args.epochs = 1;
  args.eval_strategy = "steps";
  args.eval_steps = 200;
  args.logging_steps = 20;
  return args;
}

PretrainResult pretrain(const PretrainRequest& request, const FillMaskProber& probe,
                        const std::function<void(const std::string&)>& progress) {
  Communicator& ranks = *request.communicator;
  const bool first_rank = ranks.rank() == 0;
  const auto log = [&progress, first_rank](const std::string& line) {
    if (progress && first_rank) progress(line);
  };
  check(!request.corpus.empty(), "pretrain", "--corpus needs at least one text file");
  if (first_rank) prepare_output_folder(request.output, "pretrain", "--output");
  ranks.barrier();
  if (ranks.world_size() > 1) {
    log(data_parallel_summary(ranks, std::to_string(request.batch_size), request.args.gradient_accumulation_steps));
  }
  require_available(request.device);
  const std::string tokenizer_dir = request.tokenizer_dir.empty() ? request.model_dir : request.tokenizer_dir;
  check(!tokenizer_dir.empty(), "pretrain", "--tokenizer DIR is required with --config");
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tokenizer_dir);
  auto model = model_to_pretrain(request, tokenizer, log);
  check(request.block_size <= model->config().max_position_embeddings, "pretrain",
        "--block-size " + std::to_string(request.block_size) + " exceeds the model's " +
            std::to_string(model->config().max_position_embeddings) + " positions");
  model->set_sparse_predictions(true);

  std::vector<std::string> paragraphs;
  for (const auto& file : request.corpus) {
    auto read = read_corpus_paragraphs(file);
    paragraphs.insert(paragraphs.end(), std::make_move_iterator(read.begin()), std::make_move_iterator(read.end()));
  }
  const TokenBlocks blocks = tokenize_into_blocks(paragraphs, tokenizer, request.block_size);
  auto [train_blocks, eval_blocks] = split_blocks(blocks, request.validation_split, request.args.seed);
  const std::string summary = std::to_string(paragraphs.size()) + " paragraphs, " + std::to_string(blocks.tokens_read) +
                              " tokens; " + std::to_string(train_blocks.count()) + " blocks of " +
                              std::to_string(request.block_size) + " tokens for training, " +
                              std::to_string(eval_blocks.count()) + " held out";
  log(summary);
  MaskingOptions masking;
  masking.mlm_probability = request.mlm_probability;
  const MaskedLMSource train(std::move(train_blocks), request.batch_size, tokenizer, masking, true, request.args.seed);
  std::unique_ptr<MaskedLMSource> eval;
  if (eval_blocks.count() > 0) {
    eval = std::make_unique<MaskedLMSource>(std::move(eval_blocks), request.batch_size, tokenizer, masking, false,
                                            request.args.seed);
  }

  TrainingArguments args = request.args;
  args.output_dir = request.output + "/checkpoints";
  if (!eval) args.eval_strategy = "no";
  Trainer trainer(*model, args);
  trainer.communicator = request.communicator;
  trainer.save_alongside = [&tokenizer](const std::string& dir) { tokenizer.save_pretrained(dir); };
  trainer.on_log = [&log](const nlohmann::json& entry) {
    if (entry.contains("eval_loss")) log("  eval " + entry.dump());
  };
  PretrainResult result;
  result.train = trainer.train(train, eval.get(), request.resume);
  log(std::to_string(result.train.global_step) + " steps, " + std::to_string(result.train.samples_per_second) +
      " blocks/s, mean loss " + std::to_string(result.train.train_loss));

  // The card describes the weights as shipped: rounded to the storage type before evaluating and probing.
  if (request.storage != DType::F32) {
    for (const auto& [name, parameter] : model->named_parameters())
      parameter->value = parameter->value.to(request.storage).to(DType::F32);
  }
  PretrainingCardInputs card;
  card.name = request.name.empty() ? std::filesystem::path(request.output).filename().string() : request.name;
  card.base_model = request.model;
  card.architecture = model->config().architectures.front();
  card.size = model_size(model->config());
  for (const auto& [name, parameter] : model->named_parameters()) card.parameters += parameter->value.numel();
  card.corpus_files = request.corpus;
  card.corpus_summary = summary;
  nlohmann::json hyperparameters = args.to_json();
  hyperparameters["batch_size"] = request.batch_size;
  hyperparameters["block_size"] = request.block_size;
  hyperparameters["mlm_probability"] = request.mlm_probability;
  // Settings for labelled text that masked-LM blocks (all of one length, no labels) never use.
  hyperparameters.erase("cache_frozen_features");
  hyperparameters.erase("group_by_length");
  card.training = {"masked-LM pretraining",
                   "none",
                   hyperparameters,
                   result.train.seconds,
                   result.train.samples_per_second,
                   result.train.global_step,
                   result.train.first_step};
  if (eval) {
    result.eval = trainer.evaluate(*eval);
    card.eval_results = result.eval->report;
  }
  if (!first_rank) return result;
  card.loss_curve = loss_curve(result.train.log_history);
  card.examples = probe(*model, tokenizer, request.probes);
  card.bias_probe = probe(*model, tokenizer, bias_templates());

  write_folder_atomically(request.output, [&](const std::string& dir) {
    model->save_pretrained(dir, request.storage);
    tokenizer.save_pretrained(dir);
    write_file_atomically(dir + "/training_args.json", hyperparameters.dump(2) + "\n");
    write_file_atomically(
        dir + "/trainer_state.json",
        nlohmann::json{{"log_history", result.train.log_history}, {"eval", card.eval_results}}.dump(2) + "\n");
    write_file_atomically(dir + "/README.md", render_pretraining_card(card));
  });
  return result;
}

}  // namespace graft
