// graft embed --model M [--pooling cls|mean] TEXT...: one embedding per text, as a line of numbers.
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/pipelines/feature_extraction.h"

namespace graft::cli {
namespace {

struct EmbedOptions {
  InferenceOptions common;
  std::string pooling = "cls";
};

std::string numbers_line(const std::vector<float>& values) {
  std::string line;
  char number[32];
  for (size_t i = 0; i < values.size(); ++i) {
    std::snprintf(number, sizeof number, "%.6g", static_cast<double>(values[i]));
    line += (i ? " " : "") + std::string(number);
  }
  return line;
}

void run_embed(const EmbedOptions& options) {
  const auto texts = read_inputs(options.common);
  FeatureExtractionOptions pipeline_settings;
  static_cast<PipelineOptions&>(pipeline_settings) = pipeline_options(options.common);
  pipeline_settings.pooling = pooling_named(options.pooling);
  auto pipeline = FeatureExtractionPipeline::from_pretrained(model_folder(options.common), pipeline_settings);
  const auto embeddings = pipeline(texts);
  std::vector<std::vector<std::string>> blocks;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (options.common.json) {
      print_json_line({{"text", texts[i]}, {"embedding", embeddings[i]}});
    } else {
      blocks.push_back({numbers_line(embeddings[i])});
    }
  }
  print_blocks(blocks);
}

void add_embed_command(CLI::App& app) {
  auto* command = app.add_subcommand("embed", "Embed texts with a model's encoder (one vector per text)");
  auto options = std::make_shared<EmbedOptions>();
  add_inference_options(*command, options->common);
  command->add_option("--pooling", options->pooling, "cls ([CLS] vector) or mean (over the text's tokens)")
      ->check(CLI::IsMember({"cls", "mean"}));
  command->callback([options] { run_embed(*options); });
}

const Registration kEmbed{"embed", 33, add_embed_command};

}  // namespace
}  // namespace graft::cli
