#pragma once
// Masked-language-model predictions for every [MASK] of a text, as transformers' FillMaskPipeline.
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "graft/pipelines/pipeline.h"

namespace graft {

struct FillMaskOptions : PipelineOptions {
  int64_t top_k = 5;
};

struct MaskFill {
  int64_t token = 0;      // vocabulary id
  std::string token_str;  // the token as text
  float score = 0.0F;     // softmax probability over the vocabulary
  std::string sequence;   // the text decoded with this token in place of the mask (other masks dropped)
};

// One mask's fills as transformers' fill-mask pipeline gives them: [{"score", "token", "token_str", "sequence"}].
nlohmann::json fills_json(std::span<const MaskFill> fills);

class FillMaskPipeline : public Pipeline {
 public:
  static FillMaskPipeline from_pretrained(const std::string& dir, FillMaskOptions options = {});
  FillMaskPipeline(Model& model, Tokenizer tokenizer, FillMaskOptions options = {});

  // result[text][mask] = the top_k fills of that mask, best first. Texts are truncated to max_length();
  // a text without a [MASK] token left is an error.
  std::vector<std::vector<std::vector<MaskFill>>> operator()(const std::vector<std::string>& texts);

  // The same for encodings made beforehand within max_length() (as a server's threads make them), each with at
  // least one mask (masks_in), and the top_k fills of every mask.
  std::vector<std::vector<std::vector<MaskFill>>> fill(const std::vector<Encoding>& encodings, int64_t top_k);
  // Where an encoding's [MASK] tokens are.
  std::vector<int64_t> masks_in(const Encoding& encoding) const;

 private:
  FillMaskPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer, FillMaskOptions options);

  int64_t top_k_;
};

}  // namespace graft
