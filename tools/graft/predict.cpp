// graft predict --model M [--top-k K] [--pair TEXT] [--stride S] TEXT...: sequence classification, one
// "label<TAB>score" line per returned label.
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/pipelines/text_classification.h"

namespace graft::cli {
namespace {

struct PredictOptions {
  InferenceOptions common;
  std::string top_k;  // a count, or "all"; empty: the pipeline's default
  std::string pair;
  int64_t stride = 0;
};

std::optional<int64_t> parse_top_k(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text == "all") return 0;
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == text.size() && value >= 0, "predict", "--top-k must be a count or 'all', got '" + text + "'");
  return value;
}

nlohmann::json labels_json(const std::vector<LabelScore>& labels) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& label : labels) list.push_back({{"label", label.label}, {"score", label.score}});
  return list;
}

void run_predict(const PredictOptions& options) {
  const auto texts = read_inputs(options.common);
  TextClassificationOptions pipeline_settings;
  static_cast<PipelineOptions&>(pipeline_settings) = pipeline_options(options.common, options.stride);
  pipeline_settings.top_k = parse_top_k(options.top_k);
  auto pipeline = TextClassificationPipeline::from_pretrained(model_folder(options.common), pipeline_settings);
  const std::vector<std::string> pairs(options.pair.empty() ? 0 : texts.size(), options.pair);
  const auto results = pipeline(texts, options.pair.empty() ? nullptr : &pairs);
  std::vector<std::vector<std::string>> blocks;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (options.common.json) {
      nlohmann::json line = {{"text", texts[i]}};
      if (!options.pair.empty()) line["pair"] = options.pair;
      line["labels"] = labels_json(results[i]);
      print_json_line(line);
      continue;
    }
    std::vector<std::string>& block = blocks.emplace_back();
    for (const auto& label : results[i]) block.push_back(label.label + "\t" + format_score(label.score));
  }
  print_blocks(blocks);
}

void add_predict_command(CLI::App& app) {
  auto* command = app.add_subcommand("predict", "Classify texts (or text pairs) with a sequence-classification model");
  auto options = std::make_shared<PredictOptions>();
  add_inference_options(*command, options->common);
  command->add_option("--top-k", options->top_k,
                      "Labels per text, best first, or 'all' (default 1; all for multi-label)");
  command->add_option("--pair", options->pair, "Second text paired with every input (sentence-pair tasks)");
  command
      ->add_option("--stride", options->stride,
                   "Split texts longer than the model's maximum into windows overlapping by this many tokens "
                   "and average their scores (default 0: truncate)")
      ->check(CLI::NonNegativeNumber);
  command->callback([options] { run_predict(*options); });
}

const Registration kPredict{"predict", 30, add_predict_command};

}  // namespace
}  // namespace graft::cli
