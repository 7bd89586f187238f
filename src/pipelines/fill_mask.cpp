#include "graft/pipelines/fill_mask.h"

#include "graft/core/error.h"
#include "pipelines/pipeline_support.h"

namespace graft {
nlohmann::json fills_json(std::span<const MaskFill> fills) {
  nlohmann::json list = nlohmann::json::array();
  for (const MaskFill& fill : fills) {
    list.push_back(
        {{"score", fill.score}, {"token", fill.token}, {"token_str", fill.token_str}, {"sequence", fill.sequence}});
  }
  return list;
}

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
  for (size_t text = 0; text < texts.size(); ++text) {
    check(!masks_in(encodings[text]).empty(), "fill-mask",
          "text " + std::to_string(text + 1) + " has no [MASK] token within its first " + std::to_string(max_length()) +
              " tokens: \"" + texts[text] + "\"");
  }
  return fill(encodings, top_k_);
}

std::vector<int64_t> FillMaskPipeline::masks_in(const Encoding& encoding) const {
  std::vector<int64_t> positions;
  for (size_t i = 0; i < encoding.size(); ++i) {
    if (encoding.ids[i] == tokenizer().mask_id()) positions.push_back(static_cast<int64_t>(i));
  }
  return positions;
}

std::vector<std::vector<std::vector<MaskFill>>> FillMaskPipeline::fill(const std::vector<Encoding>& encodings,
                                                                       int64_t top_k) {
  check(top_k > 0, "fill-mask", "top_k must be positive, got " + std::to_string(top_k));
  std::vector<std::vector<int64_t>> masks;
  for (size_t i = 0; i < encodings.size(); ++i) {
    masks.push_back(masks_in(encodings[i]));
    check(!masks.back().empty(), "fill-mask", "encoding " + std::to_string(i + 1) + " has no [MASK] token");
  }
  std::vector<std::vector<std::vector<MaskFill>>> results(encodings.size());
  run_batches(encodings, [&](const BatchOutput& batch) {
    const int64_t vocabulary = batch.model.logits.dim(1);  // [N, V]
    for (size_t row = 0; row < batch.members.size(); ++row) {
      const size_t member = batch.members[row];
      for (const int64_t position : masks[member]) {
        const float* logits = batch.token(batch.model.logits, row, position);
        const auto probabilities = pipelines::softmax({logits, static_cast<size_t>(vocabulary)});
        std::vector<MaskFill> fills;
        for (const int64_t token : pipelines::top_indices(probabilities, top_k)) {
          std::vector<int64_t> filled = encodings[member].ids;
          filled[static_cast<size_t>(position)] = token;
          fills.push_back({token, tokenizer().id_to_token(token), probabilities[static_cast<size_t>(token)],
                           tokenizer().decode(filled)});
        }
        results[member].push_back(std::move(fills));
      }
    }
  });
  return results;
}

}  // namespace graft
