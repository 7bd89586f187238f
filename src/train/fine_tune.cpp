#include "graft/train/fine_tune.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <sstream>

#include "graft/core/error.h"
#include "graft/data/text_dataset_source.h"
#include "graft/io/file.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/freezing.h"
#include "graft/train/model_card.h"
#include "graft/train/task_labels.h"
#include "graft/train/training_step.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kEvalBatchSize = 64;

struct RunData {
  std::unique_ptr<BatchSource> train, eval;
  std::string train_summary, eval_summary;
  std::vector<int64_t> train_classes;
};

RunData encode_text_data(const FineTuneRequest& request, const Tokenizer& tokenizer, const LabelMap& labels,
                         int64_t max_length, TextDataset train_set) {
  RunData data;
  std::optional<TextDataset> eval_set;
  if (!request.eval_file.empty()) {
    eval_set = read_dataset(request.eval_file, request.read);
  } else if (request.validation_split > 0.0) {
    auto [kept, held_out] = stratified_split(train_set, request.validation_split, request.args.seed);
    train_set = std::move(kept);
    eval_set = std::move(held_out);
  }
  const BatchOrder train_order = request.args.group_by_length ? BatchOrder::GroupedByLength : BatchOrder::Shuffled;
  auto train = encode_text_classification(std::move(train_set), tokenizer, labels, max_length, request.batch_size,
                                          train_order, request.args.seed, request.pad_to_multiple_of);
  data.train_classes = train.source->labels().classes;
  data.train_summary = train.summary;
  data.train = std::move(train.source);
  if (eval_set) {
    auto eval = encode_text_classification(std::move(*eval_set), tokenizer, labels, max_length, kEvalBatchSize,
                                           BatchOrder::LongestFirst, request.args.seed, request.pad_to_multiple_of);
    data.eval_summary = eval.summary;
    data.eval = std::move(eval.source);
  }
  return data;
}

// One weight of --class-weights: a finite, positive number, all of the field.
float class_weight(const std::string& field) {
  size_t used = 0;
  float weight = 0.0F;
  try {
    weight = std::stof(field, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  check(used > 0 && used == field.size(), "train", "--class-weights: '" + field + "' is not a number");
  check(std::isfinite(weight) && weight > 0.0F, "train",
        "--class-weights: weights must be finite and positive, got '" + field + "'");
  return weight;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

TrainingStage parse_training_stage(const std::string& spec, const TrainingStage& defaults) {
  TrainingStage stage = defaults;
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
        stage.learning_rate = std::stod(value);
      } else {
        throw Error("[train] --stage \"" + spec + "\": unknown key '" + key + "' (freeze, epochs, lr)");
      }
    } catch (const std::logic_error&) {
      throw Error("[train] --stage \"" + spec + "\": '" + value + "' is not a number for " + key);
    }
  }
  return stage;
}

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
  while (std::getline(fields, field, ',')) weights.push_back(class_weight(field));
  check(static_cast<int64_t>(weights.size()) == count, "train",
        "--class-weights has " + std::to_string(weights.size()) + " values for " + std::to_string(count) + " labels");
  return weights;
}

FineTuneResult fine_tune(const FineTuneRequest& request, const std::function<void(const std::string&)>& progress) {
  Communicator& ranks = *request.communicator;
  const bool first_rank = ranks.rank() == 0;
  const auto log = [&progress, first_rank](const std::string& line) {
    if (progress && first_rank) progress(line);
  };
  check(!request.output.empty(), "train", "--output is required");
  check(request.train_file.empty() != request.train_batches.empty(), "train",
        "give exactly one of --train FILE and --train-batches FILE.safetensors");
  check(!request.stages.empty(), "train", "no training stage");
  require_available(request.device);
  if (first_rank) prepare_output_folder(request.output, "train", "--output");
  ranks.barrier();
  if (ranks.world_size() > 1) {
    const std::string batch = request.train_batches.empty() ? std::to_string(request.batch_size) : "pre-tokenized";
    log(data_parallel_summary(ranks, batch, request.args.gradient_accumulation_steps));
  }
  LoadOptions load;
  load.device = request.device;
  load.dropout = request.dropout;
  load.seed = request.args.seed;
  load.random_init = request.random_init;
  load.log = log;

  const Tokenizer tokenizer = Tokenizer::from_pretrained(request.model_dir);
  const ModelConfig base_config = ModelConfig::from_file(request.model_dir + "/config.json");
  RunData data;
  std::unique_ptr<Model> model;
  if (!request.train_batches.empty()) {
    model = Model::from_pretrained(request.model_dir, load);
    data.train = std::make_unique<PretokenizedSource>(load_pretokenized_batches(request.train_batches));
    data.train_summary = request.train_batches + ": pre-tokenized batches";
  } else {
    TextDataset train_set = read_dataset(request.train_file, request.read);
    if (!request.read.header && !train_set.header.empty()) {
      log(request.train_file + ": the first row is read as the header (" + joined(train_set.header) +
          "); --no-header if it is data");
    }
    const LabelMap labels = labels_for_training(base_config, train_set);
    if (needs_new_head(base_config, train_set)) {
      // One label would graft a one-output head, which transformers reads as regression.
      if (labels.names().size() < 2) {
        throw Error("[train] " + request.train_file + ": every row has the label '" + labels.names().at(0) +
                    "': a classifier needs at least two labels");
      }
      log("Grafting a new classification head for labels: " + joined(labels.names()));
      load.labels = labels.names();
      load.task = TaskHead::SequenceClassification;
    }
    model = Model::from_pretrained(request.model_dir, load);
    const int64_t max_length = std::min(request.max_length, model->config().max_position_embeddings);
    data = encode_text_data(request, tokenizer, labels, max_length, std::move(train_set));
  }
  model->set_class_weights(class_weights_for(request.class_weights, data.train_classes, model->config().num_labels));

  ModelCardInputs card;
  card.base_model = request.model;
  card.base_card = read_base_card(request.model_dir);
  card.task = std::string(task_head_name(model->task()));
  card.train_file = request.train_file.empty() ? request.train_batches : request.train_file;
  card.eval_file = request.eval_file;
  card.train_summary = data.train_summary;
  card.eval_summary = data.eval_summary;
  for (const auto& [id, name] : model->config().id2label) card.labels.push_back(name);

  nlohmann::json all_args = nlohmann::json::array();
  nlohmann::json history = nlohmann::json::array();
  FineTuneResult run;
  const auto stages = static_cast<int64_t>(request.stages.size());
  for (int64_t i = 0; i < stages; ++i) {
    const TrainingStage& stage = request.stages[static_cast<size_t>(i)];
    const std::string number = std::to_string(i + 1);
    apply_freeze_spec(*model, stage.freeze);
    TrainingArguments args = request.args;
    args.epochs = stage.epochs;
    args.learning_rate = stage.learning_rate;
    args.output_dir = request.output + "/stage-" + number;
    if (data.eval == nullptr && args.eval_strategy != "no") args.eval_strategy = "no";
    int64_t trainable = 0;
    for (Parameter* parameter : trainable_parameters(*model)) trainable += parameter->value.numel();
    std::ostringstream started;
    started << "Stage " << number << "/" << stages << ": freeze=" << stage.freeze << ", epochs=" << args.epochs
            << ", lr=" << args.learning_rate << " (" << trainable << " trainable weights)";
    log(started.str());
    Trainer trainer(*model, args);
    trainer.communicator = request.communicator;
    trainer.save_alongside = [&tokenizer](const std::string& dir) { tokenizer.save_pretrained(dir); };
    trainer.on_log = [&log](const nlohmann::json& entry) {
      if (entry.contains("eval_loss")) log("  eval " + entry.dump());
    };
    const TrainResult result = trainer.train(*data.train, data.eval.get(), request.resume);
    std::ostringstream done;
    done << "Stage " << number << " done: " << result.global_step << " steps, " << result.samples_per_second
         << " samples/s, mean loss " << result.train_loss;
    log(done.str());
    nlohmann::json stage_args = args.to_json();
    stage_args["freeze"] = stage.freeze;
    all_args.push_back(stage_args);
    for (const auto& entry : result.log_history) {
      nlohmann::json tagged = entry;
      tagged["stage"] = i + 1;
      history.push_back(tagged);
    }
    card.stages.push_back({"stage " + number, stage.freeze, stage_args, result.seconds, result.samples_per_second,
                           result.global_step, result.first_step});
    if (result.best_eval) run.eval = result.best_eval;
  }
  apply_freeze_spec(*model, "none");
  if (data.eval) {
    Trainer evaluator(*model, request.args);
    evaluator.communicator = request.communicator;
    run.eval = evaluator.evaluate(*data.eval);
  }
  if (run.eval) {
    card.eval_results = run.eval->report;
    card.eval_table = run.eval->table;
  }

  nlohmann::json state = {{"log_history", history}};
  if (run.eval) state["eval"] = run.eval->report;
  if (!first_rank) return run;
  write_folder_atomically(request.output, [&](const std::string& dir) {
    model->save_pretrained(dir);
    tokenizer.save_pretrained(dir);
    write_file_atomically(dir + "/training_args.json", all_args.dump(2) + "\n");
    write_file_atomically(dir + "/trainer_state.json", state.dump(2) + "\n");
    write_file_atomically(dir + "/README.md", render_model_card(card));
  });
  return run;
}

}  // namespace graft
