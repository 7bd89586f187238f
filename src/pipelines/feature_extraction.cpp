#include "graft/pipelines/feature_extraction.h"

#include <algorithm>

#include "graft/core/error.h"
#include "pipelines/pipeline_support.h"

namespace graft {
namespace {

// The mean of a sequence's packed rows [T, D]: its tokens, the padding left out when it was packed.
std::vector<float> mean_over_tokens(const float* states, int64_t dim, int64_t tokens) {
  std::vector<float> mean(static_cast<size_t>(dim), 0.0F);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t d = 0; d < dim; ++d) mean[static_cast<size_t>(d)] += states[t * dim + d];
  }
  for (float& value : mean) value /= static_cast<float>(std::max<int64_t>(tokens, 1));
  return mean;
}

}  // namespace

Pooling pooling_named(const std::string& name) {
  if (name == "cls") return Pooling::Cls;
  if (name == "mean") return Pooling::Mean;
  throw Error("[feature-extraction] unknown pooling '" + name + "' (cls or mean)");
}

FeatureExtractionPipeline FeatureExtractionPipeline::from_pretrained(const std::string& dir,
                                                                     FeatureExtractionOptions options) {
  // Loaded with its own head: as a bare encoder, a BERT checkpoint without a pooler (one saved with a
  // token-classification or masked-LM head) would lack the pooler's weights.
  auto model = pipelines::load_model(dir, options);
  Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  return FeatureExtractionPipeline(std::move(model), std::move(tokenizer), options);
}

FeatureExtractionPipeline::FeatureExtractionPipeline(Model& model, Tokenizer tokenizer,
                                                     FeatureExtractionOptions options)
    : Pipeline(model, std::move(tokenizer), options), pooling_(options.pooling) {}

FeatureExtractionPipeline::FeatureExtractionPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer,
                                                     FeatureExtractionOptions options)
    : FeatureExtractionPipeline(*model, std::move(tokenizer), options) {
  adopt(std::move(model));
}

std::vector<std::vector<float>> FeatureExtractionPipeline::operator()(const std::vector<std::string>& texts) {
  return embed(encode_truncated(texts));
}

std::vector<std::vector<float>> FeatureExtractionPipeline::embed(const std::vector<Encoding>& encodings) {
  std::vector<std::vector<float>> embeddings(encodings.size());
  run_batches(encodings, [&](const BatchOutput& batch) {
    const Tensor& hidden = batch.model.encoder.last_hidden_state;  // [N, D]
    const int64_t dim = hidden.dim(1);
    for (size_t row = 0; row < batch.members.size(); ++row) {
      const size_t text = batch.members[row];
      const float* states = batch.token(hidden, row, 0);  // the text's tokens, one after another
      embeddings[text] = pooling_ == Pooling::Cls ? std::vector<float>(states, states + dim)
                                                  : mean_over_tokens(states, dim, batch.tokens(row));
    }
  });
  return embeddings;
}

}  // namespace graft
