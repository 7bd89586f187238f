#pragma once
// One embedding per text from the encoder's last hidden state, like sentence-transformers' pooling.
#include <string>
#include <vector>

#include "graft/models/custom.h"  // Pooling
#include "graft/pipelines/pipeline.h"

namespace graft {

// "cls" | "mean" -> Pooling; graft::Error otherwise.
Pooling pooling_named(const std::string& name);

struct FeatureExtractionOptions : PipelineOptions {
  Pooling pooling = Pooling::Cls;
};

class FeatureExtractionPipeline : public Pipeline {
 public:
  // The head of the folder's model is run but its logits are not used.
  static FeatureExtractionPipeline from_pretrained(const std::string& dir, FeatureExtractionOptions options = {});
  FeatureExtractionPipeline(Model& model, Tokenizer tokenizer, FeatureExtractionOptions options = {});

  // One vector of the model's hidden size per text; texts are truncated to max_length().
  std::vector<std::vector<float>> operator()(const std::vector<std::string>& texts);
  // The same for encodings tokenized beforehand, within max_length() (as a server's threads do it).
  std::vector<std::vector<float>> embed(const std::vector<Encoding>& encodings);
  Pooling pooling() const { return pooling_; }

 private:
  FeatureExtractionPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer, FeatureExtractionOptions options);

  Pooling pooling_;
};

}  // namespace graft
