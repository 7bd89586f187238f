// graft train: fine-tune a model on a labelled text file (or pre-tokenized batches), in one or more
// stages. The seed's transfer-learning workflow is two stages:
//   --stage "freeze=distilbert,epochs=3,lr=1e-3" --stage "freeze=none,epochs=2,lr=2e-5"
// The output folder is what save_pretrained writes, plus the tokenizer, training_args.json,
// trainer_state.json, log.jsonl and a model card (README.md).
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/data/dataset.h"
#include "graft/io/file.h"
#include "graft/io/hub.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/freezing.h"
#include "graft/train/model_card.h"
#include "graft/train/text_dataset_source.h"
#include "graft/train/trainer.h"
#include "graft/train/training_step.h"

namespace graft::cli {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kEvalBatchSize = 64;

struct Stage {
  std::string freeze = "none";
  int64_t epochs = 0;  // 0: the global --epochs
  double lr = 0.0;     // 0: the global --lr
};

struct TrainOptions {
  std::string model;
  std::string train_file, eval_file, train_batches, output;
  ReadOptions read;
  double validation_split = 0.0;
  int64_t max_length = 128;
  int64_t batch_size = 16;
  int64_t pad_to_multiple_of = 0;
  std::string freeze = "none";
  std::vector<std::string> stage_specs;
  std::optional<double> dropout;
  std::string init = "pretrained";
  std::string class_weights;
  bool resume = false;
  TrainingArguments args;
};

// "freeze=distilbert,epochs=3,lr=1e-3": keys freeze, epochs, lr; freeze patterns are separated by '+'
// inside a stage ("freeze=distilbert.embeddings+distilbert.transformer.layer.[0-3]") because ',' separates keys.
Stage parse_stage(const std::string& spec, const TrainOptions& options) {
  Stage stage{options.freeze, options.args.epochs, options.args.learning_rate};
  std::stringstream fields(spec);
  std::string field;
  while (std::getline(fields, field, ',')) {
    const auto equals = field.find('=');
    check(equals != std::string::npos, "train", "--stage \"" + spec + "\": expected key=value, got '" + field + "'");
    const std::string key = field.substr(0, equals);
    const std::string value = field.substr(equals + 1);
    try {
      if (key == "freeze") {
        stage.freeze = value;
        std::replace(stage.freeze.begin(), stage.freeze.end(), '+', ',');
      } else if (key == "epochs") {
        stage.epochs = std::stoll(value);
      } else if (key == "lr") {
        stage.lr = std::stod(value);
      } else {
        throw Error("[train] --stage \"" + spec + "\": unknown key '" + key + "' (freeze, epochs, lr)");
      }
    } catch (const std::logic_error&) {
      throw Error("[train] --stage \"" + spec + "\": '" + value + "' is not a number for " + key);
    }
  }
  return stage;
}

std::vector<Stage> stages_of(const TrainOptions& options) {
  std::vector<Stage> stages;
  for (const auto& spec : options.stage_specs) stages.push_back(parse_stage(spec, options));
  if (stages.empty()) stages.push_back({options.freeze, options.args.epochs, options.args.learning_rate});
  return stages;
}

// "balanced": n_samples / (n_classes * count_c), as scikit-learn; or comma-separated weights.
std::vector<float> class_weights_for(const std::string& spec, const std::vector<int64_t>& classes, int64_t count) {
  if (spec.empty()) return {};
  std::vector<float> weights;
  if (spec == "balanced") {
    std::vector<int64_t> counts(static_cast<size_t>(count), 0);
    for (int64_t c : classes) ++counts[static_cast<size_t>(c)];
    for (int64_t n : counts) {
      weights.push_back(n == 0 ? 0.0F : static_cast<float>(classes.size()) / static_cast<float>(count * n));
    }
    return weights;
  }
  std::stringstream fields(spec);
  std::string field;
  while (std::getline(fields, field, ',')) weights.push_back(std::stof(field));
  check(static_cast<int64_t>(weights.size()) == count, "train",
        "--class-weights has " + std::to_string(weights.size()) + " values for " + std::to_string(count) + " labels");
  return weights;
}

struct Data {
  std::unique_ptr<BatchSource> train, eval;
  std::string train_summary, eval_summary;
  std::vector<int64_t> train_classes;
};

Data load_text_data(const TrainOptions& options, const Tokenizer& tokenizer, const LabelMap& labels, int64_t max_length,
                    TextDataset train_set) {
  Data data;
  std::optional<TextDataset> eval_set;
  if (!options.eval_file.empty()) {
    eval_set = read_dataset(options.eval_file, options.read);
  } else if (options.validation_split > 0.0) {
    auto [kept, held_out] = stratified_split(train_set, options.validation_split, options.args.seed);
    train_set = std::move(kept);
    eval_set = std::move(held_out);
  }
  const BatchOrder train_order = options.args.group_by_length ? BatchOrder::GroupedByLength : BatchOrder::Shuffled;
  auto train = encode_text_classification(std::move(train_set), tokenizer, labels, max_length, options.batch_size,
                                          train_order, options.args.seed, options.pad_to_multiple_of);
  data.train_classes = train.source->labels().classes;
  data.train_summary = train.summary;
  data.train = std::move(train.source);
  if (eval_set) {
    auto eval = encode_text_classification(std::move(*eval_set), tokenizer, labels, max_length, kEvalBatchSize,
                                           BatchOrder::LongestFirst, options.args.seed, options.pad_to_multiple_of);
    data.eval_summary = eval.summary;
    data.eval = std::move(eval.source);
  }
  return data;
}

void print_log(const nlohmann::json& entry) {
  if (entry.contains("eval_loss")) std::cerr << "  eval " << entry.dump() << '\n';
}

void run_train(TrainOptions& options) {
  const std::string model_dir = resolve_model_path(options.model);
  check(!options.output.empty(), "train", "--output is required");
  check(options.train_file.empty() != options.train_batches.empty(), "train",
        "give exactly one of --train FILE and --train-batches FILE.safetensors");
  LoadOptions load;
  load.dropout = options.dropout;
  load.seed = options.args.seed;
  load.random_init = options.init == "random";
  check(options.init == "random" || options.init == "pretrained", "train", "--init must be pretrained or random");
  load.log = [](const std::string& message) { std::cerr << message << '\n'; };

  const Tokenizer tokenizer = Tokenizer::from_pretrained(model_dir);
  const ModelConfig base_config = ModelConfig::from_file(model_dir + "/config.json");
  Data data;
  std::unique_ptr<Model> model;
  if (!options.train_batches.empty()) {
    model = Model::from_pretrained(model_dir, load);
    data.train = std::make_unique<PretokenizedSource>(load_pretokenized_batches(options.train_batches));
    data.train_summary = options.train_batches + ": pre-tokenized batches";
  } else {
    TextDataset train_set = read_dataset(options.train_file, options.read);
    const LabelMap labels = labels_for_training(base_config, train_set);
    if (needs_new_head(base_config, train_set)) {
      std::cerr << "Grafting a new classification head for labels: ";
      for (const auto& name : labels.names()) std::cerr << name << ' ';
      std::cerr << '\n';
      load.labels = labels.names();
      load.task = TaskHead::SequenceClassification;
    }
    model = Model::from_pretrained(model_dir, load);
    const int64_t max_length = std::min(options.max_length, model->config().max_position_embeddings);
    data = load_text_data(options, tokenizer, labels, max_length, std::move(train_set));
  }
  model->set_class_weights(class_weights_for(options.class_weights, data.train_classes, model->config().num_labels));

  fs::create_directories(options.output);
  ModelCardInputs card;
  card.base_model = options.model;
  card.base_card = read_base_card(model_dir);
  card.task = std::string(task_head_name(model->task()));
  card.train_file = options.train_file.empty() ? options.train_batches : options.train_file;
  card.eval_file = options.eval_file;
  card.train_summary = data.train_summary;
  card.eval_summary = data.eval_summary;
  for (const auto& [id, name] : model->config().id2label) card.labels.push_back(name);

  nlohmann::json all_args = nlohmann::json::array();
  nlohmann::json history = nlohmann::json::array();
  const std::vector<Stage> stages = stages_of(options);
  std::optional<EvalResult> final_eval;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& stage = stages[i];
    apply_freeze_spec(*model, stage.freeze);
    TrainingArguments args = options.args;
    args.epochs = stage.epochs;
    args.learning_rate = stage.lr;
    args.output_dir = options.output + "/stage-" + std::to_string(i + 1);
    if (data.eval == nullptr && args.eval_strategy != "no") args.eval_strategy = "no";
    int64_t trainable = 0;
    for (Parameter* parameter : trainable_parameters(*model)) trainable += parameter->value.numel();
    std::cerr << "Stage " << i + 1 << "/" << stages.size() << ": freeze=" << stage.freeze << ", epochs=" << args.epochs
              << ", lr=" << args.learning_rate << " (" << trainable << " trainable weights)\n";
    Trainer trainer(*model, args);
    trainer.on_log = print_log;
    const TrainResult result = trainer.train(*data.train, data.eval.get(), options.resume);
    std::cerr << "Stage " << i + 1 << " done: " << result.global_step << " steps, " << result.samples_per_second
              << " samples/s, mean loss " << result.train_loss << '\n';
    nlohmann::json stage_args = args.to_json();
    stage_args["freeze"] = stage.freeze;
    all_args.push_back(stage_args);
    for (const auto& entry : result.log_history) {
      nlohmann::json tagged = entry;
      tagged["stage"] = i + 1;
      history.push_back(tagged);
    }
    card.stages.push_back({"stage " + std::to_string(i + 1), stage.freeze, stage_args, result.seconds,
                           result.samples_per_second, result.global_step, result.first_step});
    if (result.best_eval) final_eval = result.best_eval;
  }
  apply_freeze_spec(*model, "none");
  if (data.eval) final_eval = Trainer(*model, options.args).evaluate(*data.eval);
  if (final_eval) {
    card.eval_results = final_eval->report;
    card.eval_table = final_eval->table;
    std::cout << final_eval->table << '\n';
  }

  model->save_pretrained(options.output);
  tokenizer.save_pretrained(options.output);
  write_file_atomically(options.output + "/training_args.json", all_args.dump(2) + "\n");
  nlohmann::json state = {{"log_history", history}};
  if (final_eval) state["eval"] = final_eval->report;
  write_file_atomically(options.output + "/trainer_state.json", state.dump(2) + "\n");
  write_file_atomically(options.output + "/README.md", render_model_card(card));
  std::cout << "Model, tokenizer, model card and logs written to " << options.output << '\n';
}

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train", "Fine-tune a model (transfer learning: freeze, then unfreeze)");
  command->add_option("--model", options->model, "Base model folder or Hub id ORG/NAME[@REV]")->required();
  command->add_option("--train", options->train_file, "Labelled training data (CSV, TSV, JSON lines)");
  command->add_option("--train-batches", options->train_batches,
                      "Pre-tokenized batches (batch{i}.input_ids, .attention_mask, .labels), step s uses batch s % n");
  command->add_option("--eval", options->eval_file, "Labelled evaluation data");
  command->add_option("--validation-split", options->validation_split,
                      "Hold out this fraction of --train (stratified) for evaluation when there is no --eval");
  command->add_option("--output", options->output, "Output folder (save_pretrained layout)")->required();
  command->add_option("--text-column", options->read.text_column, "Text column (name or 0-based index)");
  command->add_option("--text-pair-column", options->read.text_pair_column, "Second text column (sentence pairs)");
  command->add_option("--label-column", options->read.label_column, "Label column (name or index)");
  command->add_option("--format", options->read.format, "csv, tsv, jsonl, phrasebank or auto");
  command->add_flag("--skip-bad-rows", options->read.skip_bad_rows, "Skip (and count) malformed rows");
  command->add_option("--max-length", options->max_length, "Truncate texts to this many tokens")->capture_default_str();
  command->add_option("--batch-size", options->batch_size, "Examples per batch")->capture_default_str();
  command->add_option("--pad-to-multiple-of", options->pad_to_multiple_of, "Round padded lengths up to a multiple");
  command->add_flag("!--no-group-by-length", options->args.group_by_length,
                    "Shuffle freely instead of batching examples of similar length (which saves padding)");
  command->add_option("--epochs", options->args.epochs, "Epochs (per stage unless the stage says)")
      ->capture_default_str();
  add_optimization_options(*command, options->args);
  command->add_option("--optimizer", options->args.optimizer, "adamw or sgd")->capture_default_str();
  command
      ->add_option("--freeze", options->freeze,
                   "Parameters to freeze: none, or comma-separated module patterns (distilbert, "
                   "distilbert.transformer.layer.[0-3])")
      ->capture_default_str();
  command->add_option("--stage", options->stage_specs,
                      "A training stage \"freeze=PATTERNS,epochs=N,lr=X\" (repeat for several; '+' joins patterns)");
  command->add_option("--layerwise-lr-decay", options->args.layerwise_lr_decay,
                      "Each layer below the head learns this factor slower (discriminative learning rates)");
  command->add_flag("--gradual-unfreezing", options->args.gradual_unfreezing,
                    "Unfreeze one more layer group from the top each epoch (ULMFiT)");
  command->add_flag("!--no-feature-cache", options->args.cache_frozen_features,
                    "With the base frozen, run it on every step (dropout on) instead of once per example");
  command->add_option("--dropout", options->dropout, "Override every dropout probability (0 for determinism)");
  command->add_option("--class-weights", options->class_weights, "balanced, or one weight per label (w0,w1,...)");
  command->add_option("--init", options->init, "pretrained (default) or random (same architecture from scratch)");
  command->add_option("--eval-strategy", options->args.eval_strategy, "no, epoch or steps")->capture_default_str();
  command->add_option("--eval-steps", options->args.eval_steps, "Evaluate every N steps (with --eval-strategy steps)");
  command->add_option("--metric", options->args.metric_for_best_model, "Metric that picks the best checkpoint")
      ->capture_default_str();
  command->add_option("--early-stopping", options->args.early_stopping_patience,
                      "Stop after this many evaluations without improvement");
  command->add_option("--seed", options->args.seed, "Seed for initialisation, shuffling and dropout")
      ->capture_default_str();
  command->add_flag("--resume", options->resume, "Continue from the newest checkpoint in --output");
  command->callback([options] { run_train(*options); });
}

const Registration kTrain{"train", 40, add_train_command};

}  // namespace
}  // namespace graft::cli
