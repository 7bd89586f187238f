#pragma once
// Sequence classification: labels with scores for each text (or text pair), as transformers'
// TextClassificationPipeline.
#include <optional>
#include <string>
#include <vector>

#include "graft/pipelines/pipeline.h"

namespace graft {

// What turns logits into scores; by default chosen from config.json as transformers does:
// problem_type "regression" -> None (the raw value), "multi_label_classification" or a single label ->
// Sigmoid (each label scored on its own), otherwise Softmax.
enum class ScoreFunction { Softmax, Sigmoid, None };

struct TextClassificationOptions : PipelineOptions {
  // How many labels to return, best first; 0 = all. Without a value: 1, except for Sigmoid scores,
  // where every label is returned since each is a separate yes/no answer.
  std::optional<int64_t> top_k;
  std::optional<ScoreFunction> function_to_apply;
};

struct LabelScore {
  std::string label;
  float score = 0.0F;
  bool operator==(const LabelScore&) const = default;
};

class TextClassificationPipeline : public Pipeline {
 public:
  static TextClassificationPipeline from_pretrained(const std::string& dir, TextClassificationOptions options = {});
  TextClassificationPipeline(Model& model, Tokenizer tokenizer, TextClassificationOptions options = {});

  // For each text, its labels sorted by descending score. With a stride, a text longer than
  // max_length() is scored as the mean of its windows' scores (text pairs are always truncated).
  std::vector<std::vector<LabelScore>> operator()(const std::vector<std::string>& texts,
                                                  const std::vector<std::string>* pairs = nullptr);

  // Every label of each encoding (tokenized beforehand, within max_length(), as a server's threads do it), best
  // first: scored by score_function(), or the raw logits with raw_scores (text-embeddings-inference's flag).
  std::vector<std::vector<LabelScore>> classify(const std::vector<Encoding>& encodings, bool raw_scores = false);

  ScoreFunction score_function() const { return function_; }

 private:
  TextClassificationPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer, TextClassificationOptions options);
  std::vector<std::vector<float>> mean_scores(const std::vector<Encoding>& encodings, const std::vector<size_t>& owner,
                                              size_t texts, ScoreFunction function);
  std::vector<LabelScore> ranked(const std::vector<float>& scores, int64_t top_k) const;

  ScoreFunction function_ = ScoreFunction::Softmax;
  int64_t top_k_ = 1;
  std::vector<std::string> labels_;  // by class id
};

// "softmax" | "sigmoid" | "none" -> ScoreFunction; graft::Error otherwise.
ScoreFunction score_function_named(const std::string& name);

}  // namespace graft
