// graft fill-mask --model M [--top-k K] TEXT...: the likeliest tokens for every [MASK], one
// "token<TAB>score<TAB>sequence" line per candidate.
#include "graft/pipelines/fill_mask.h"

#include <memory>

#include "cli_common.h"
#include "command.h"

namespace graft::cli {
namespace {

struct FillMaskCommandOptions {
  InferenceOptions common;
  int64_t top_k = 5;
};

void run_fill_mask(const FillMaskCommandOptions& options) {
  const auto texts = read_inputs(options.common);
  FillMaskOptions pipeline_settings;
  static_cast<PipelineOptions&>(pipeline_settings) = pipeline_options(options.common);
  pipeline_settings.top_k = options.top_k;
  auto pipeline = FillMaskPipeline::from_pretrained(model_folder(options.common), pipeline_settings);
  const auto results = pipeline(texts);
  std::vector<std::vector<std::string>> blocks;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (options.common.json) {
      nlohmann::json masks = nlohmann::json::array();
      for (const auto& fills : results[i]) masks.push_back(fills_json(fills));
      print_json_line({{"text", texts[i]}, {"masks", masks}});
      continue;
    }
    std::vector<std::string>& block = blocks.emplace_back();
    for (const auto& fills : results[i]) {
      for (const auto& fill : fills)
        block.push_back(fill.token_str + "\t" + format_score(fill.score) + "\t" + fill.sequence);
    }
  }
  print_blocks(blocks);
}

void add_fill_mask_command(CLI::App& app) {
  auto* command = app.add_subcommand("fill-mask", "Predict the tokens hidden by [MASK] with a masked-LM model");
  auto options = std::make_shared<FillMaskCommandOptions>();
  add_inference_options(*command, options->common);
  command->add_option("--top-k", options->top_k, "Candidates per mask, best first")->check(CLI::PositiveNumber);
  command->callback([options] { run_fill_mask(*options); });
}

const Registration kFillMask{"fill-mask", 31, add_fill_mask_command};

}  // namespace
}  // namespace graft::cli
