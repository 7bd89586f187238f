// graft tag --model M [--grouped] TEXT...: token classification (named entities), one
// "word<TAB>label<TAB>score<TAB>start<TAB>end" line per word piece, or per entity with --grouped.
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/pipelines/token_classification.h"

namespace graft::cli {
namespace {

struct TagOptions {
  InferenceOptions common;
  bool grouped = false;
  int64_t stride = 0;
};

std::string span_line(const std::string& word, const std::string& label, float score, int64_t start, int64_t end) {
  return word + "\t" + label + "\t" + format_score(score) + "\t" + std::to_string(start) + "\t" + std::to_string(end);
}

std::vector<std::string> entity_lines(const TokenClassificationResult& result, bool grouped) {
  std::vector<std::string> lines;
  if (grouped) {
    for (const auto& group : result.groups) {
      lines.push_back(span_line(group.word, group.entity_group, group.score, group.start, group.end));
    }
    return lines;
  }
  for (const auto& entity : result.entities) {
    lines.push_back(span_line(entity.word, entity.entity, entity.score, entity.start, entity.end));
  }
  return lines;
}

void run_tag(const TagOptions& options) {
  const auto texts = read_inputs(options.common);
  TokenClassificationOptions pipeline_settings;
  static_cast<PipelineOptions&>(pipeline_settings) = pipeline_options(options.common, options.stride);
  auto pipeline = TokenClassificationPipeline::from_pretrained(model_folder(options.common), pipeline_settings);
  const auto results = pipeline(texts);
  std::vector<std::vector<std::string>> blocks;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (options.common.json) {
      print_json_line({{"text", texts[i]}, {"entities", entities_json(results[i], options.grouped)}});
    } else {
      blocks.push_back(entity_lines(results[i], options.grouped));
    }
  }
  print_blocks(blocks);
}

void add_tag_command(CLI::App& app) {
  auto* command = app.add_subcommand("tag", "Label the tokens of texts with a token-classification model");
  auto options = std::make_shared<TagOptions>();
  add_inference_options(*command, options->common);
  command->add_flag("--grouped", options->grouped, "Merge B-/I- word pieces into entities (aggregation 'simple')");
  command
      ->add_option("--stride", options->stride,
                   "Split texts longer than the model's maximum into windows overlapping by this many tokens "
                   "(default 0: truncate)")
      ->check(CLI::NonNegativeNumber);
  command->callback([options] { run_tag(*options); });
}

const Registration kTag{"tag", 32, add_tag_command};

}  // namespace
}  // namespace graft::cli
