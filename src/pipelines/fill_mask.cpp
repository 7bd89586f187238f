#include "graft/pipelines/fill_mask.h"

#include "graft/core/error.h"
#include "pipelines/pipeline_support.h"

namespace graft {
namespace {

std::vector<int64_t> mask_positions(const Encoding& encoding, int64_t mask_id) {
  std::vector<int64_t> positions;
  for (size_t i = 0; i < encoding.size(); ++i) {
    if (encoding.ids[i] == mask_id) positions.push_back(static_cast<int64_t>(i));
  }
  return positions;
}

}  // namespace

FillMaskPipeline FillMaskPipeline::from_pretrained(const std::string& dir, FillMaskOptions options) {
  auto model = pipelines::load_model(dir, options);
  Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  return FillMaskPipeline(std::move(model), std::move(tokenizer), options);
}

FillMaskPipeline::FillMaskPipeline(Model& model, Tokenizer tokenizer, FillMaskOptions options)
    : Pipeline(model, std::move(tokenizer), options), top_k_(options.top_k) {
  require_task(TaskHead::MaskedLM, "fill-mask");
  check(top_k_ > 0, "fill-mask", "top_k must be positive, got " + std::to_string(top_k_));
  check(this->tokenizer().mask_id() >= 0, "fill-mask", "the tokenizer has no mask token");
}

FillMaskPipeline::FillMaskPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer, FillMaskOptions options)
    : FillMaskPipeline(*model, std::move(tokenizer), options) {
  adopt(std::move(model));
}

std::vector<std::vector<std::vector<MaskFill>>> FillMaskPipeline::operator()(const std::vector<std::string>& texts) {
  const std::vector<Encoding> encodings = encode_truncated(texts);
  std::vector<std::vector<int64_t>> masks;
  for (size_t text = 0; text < texts.size(); ++text) {
    masks.push_back(mask_positions(encodings[text], tokenizer().mask_id()));
    check(!masks.back().empty(), "fill-mask",
          "text " + std::to_string(text + 1) + " has no [MASK] token within its first " + std::to_string(max_length()) +
              " tokens: \"" + texts[text] + "\"");
  }
  std::vector<std::vector<std::vector<MaskFill>>> results(texts.size());
  run_batches(encodings, [&](const BatchOutput& batch) {
    const int64_t vocabulary = batch.model.logits.dim(1);  // [N, V]
    for (size_t row = 0; row < batch.members.size(); ++row) {
      const size_t text = batch.members[row];
      for (const int64_t position : masks[text]) {
        const float* logits = batch.token(batch.model.logits, row, position);
        const auto probabilities = pipelines::softmax({logits, static_cast<size_t>(vocabulary)});
        std::vector<MaskFill> fills;
        for (const int64_t token : pipelines::top_indices(probabilities, top_k_)) {
          std::vector<int64_t> filled = encodings[text].ids;
          filled[static_cast<size_t>(position)] = token;
          fills.push_back({token, tokenizer().id_to_token(token), probabilities[static_cast<size_t>(token)],
                           tokenizer().decode(filled)});
        }
        results[text].push_back(std::move(fills));
      }
    }
  });
  return results;
}

}  // namespace graft
