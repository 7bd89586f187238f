// graft evaluate --model M --data FILE [--text-column C] [--text-pair-column C] [--label-column L]
// [--format F] [--batch-size N] [--max-length N] [--json]: loss, accuracy, macro F1, the per-class report
// and the confusion matrix of a sequence-classification model on a labelled file. With --json the last
// line is one JSON object, for scripts.
#include "graft/train/evaluate.h"

#include <iostream>
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/data/text_dataset_source.h"
#include "graft/io/hub.h"
#include "graft/models/model.h"
#include "graft/train/task_labels.h"

namespace graft::cli {
namespace {

struct EvaluateOptions {
  std::string model;
  std::string data;
  ReadOptions read;
  int64_t batch_size = 32;
  int64_t max_length = 0;  // 0: the model's limit
  bool json = false;
  bool int8 = false;
  std::string device = "cpu";
};

void check_single_label_classifier(const Model& model) {
  check(
      model.task() == TaskHead::SequenceClassification, "evaluate",
      "graft evaluate needs a sequence-classification model, this one is " + std::string(task_head_name(model.task())));
  const std::string problem = model.config().problem_type.value_or("single_label_classification");
  check(problem == "single_label_classification", "evaluate",
        "graft evaluate supports single-label classification, this model's problem_type is " + problem);
}

nlohmann::json summary_json(const EvalResult& result) {
  nlohmann::json summary = nlohmann::json::object();
  for (const auto& [name, value] : result.metrics) summary[name] = value;
  summary["loss"] = result.loss;
  summary["examples"] = result.examples;
  summary["report"] = result.report;
  return summary;
}

void run_evaluate(const EvaluateOptions& options) {
  LoadOptions load;
  load.device = device_option(options.device);
  load.int8 = options.int8;
  const std::string folder = resolve_model_path(options.model);
  auto model = Model::from_pretrained(folder, load);
  check_single_label_classifier(*model);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(folder);
  // The model's own label ids: a label it was not trained on is an error, not a new class.
  const LabelMap labels = LabelMap::from_id2label(model->config().id2label);
  const int64_t max_length =
      options.max_length > 0 ? options.max_length : model_input_limit(tokenizer, model->config());
  const TextClassificationData data = load_text_classification(
      options.data, options.read, tokenizer, labels, max_length, options.batch_size, BatchOrder::LongestFirst, 0);
  const EvalResult result = evaluate(*model, *data.source, model->task(), "", labels.names());
  std::cout << options.data << ": " << data.summary << '\n'
            << "loss " << format_score(static_cast<float>(result.loss)) << "\n\n"
            << result.table;
  if (options.json) print_json_line(summary_json(result));
}

void add_evaluate_command(CLI::App& app) {
  auto* command = app.add_subcommand("evaluate", "Measure a classifier on a labelled CSV/TSV/JSONL file");
  auto options = std::make_shared<EvaluateOptions>();
  command->add_option("--model", options->model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  command->add_option("--data", options->data, "Labelled examples (.csv, .tsv, .jsonl, PhraseBank .txt)")->required();
  add_device_option(*command, options->device);
  add_int8_option(*command, options->int8);
  add_reading_options(*command, options->read);
  command->add_option("--batch-size", options->batch_size, "Examples per forward pass")->check(CLI::PositiveNumber);
  command->add_option("--max-length", options->max_length, "Truncate inputs to this many tokens (0: the model's)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--json", options->json, "End with one line of JSON: metrics, loss, examples, report");
  command->callback([options] { run_evaluate(*options); });
}

const Registration kEvaluate{"evaluate", 42, add_evaluate_command};

}  // namespace
}  // namespace graft::cli
