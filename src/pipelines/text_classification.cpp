#include "graft/pipelines/text_classification.h"

#include <numeric>

#include "graft/core/error.h"
#include "pipelines/pipeline_support.h"

namespace graft {
namespace {

ScoreFunction default_score_function(const ModelConfig& config) {
  const std::string problem = config.problem_type.value_or("");
  if (problem == "regression") return ScoreFunction::None;
  if (problem == "multi_label_classification" || config.num_labels == 1) return ScoreFunction::Sigmoid;
  return ScoreFunction::Softmax;
}

std::vector<float> apply(ScoreFunction function, std::span<const float> logits) {
  switch (function) {
    case ScoreFunction::Softmax: return pipelines::softmax(logits);
    case ScoreFunction::Sigmoid: return pipelines::sigmoid(logits);
    case ScoreFunction::None: break;
  }
  return {logits.begin(), logits.end()};
}

}  // namespace

ScoreFunction score_function_named(const std::string& name) {
  if (name == "softmax") return ScoreFunction::Softmax;
  if (name == "sigmoid") return ScoreFunction::Sigmoid;
  if (name == "none") return ScoreFunction::None;
  throw Error("[text-classification] unknown function_to_apply '" + name + "' (softmax, sigmoid or none)");
}

TextClassificationPipeline TextClassificationPipeline::from_pretrained(const std::string& dir,
                                                                       TextClassificationOptions options) {
  auto model = pipelines::load_model(dir, options);
  Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  return TextClassificationPipeline(std::move(model), std::move(tokenizer), std::move(options));
}

TextClassificationPipeline::TextClassificationPipeline(Model& model, Tokenizer tokenizer,
                                                       TextClassificationOptions options)
    : Pipeline(model, std::move(tokenizer), options) {
  require_task(TaskHead::SequenceClassification, "text-classification");
  function_ = options.function_to_apply.value_or(default_score_function(model.config()));
  top_k_ = options.top_k.value_or(function_ == ScoreFunction::Sigmoid ? 0 : 1);
  check(top_k_ >= 0, "text-classification", "top_k must not be negative, got " + std::to_string(top_k_));
  labels_ = pipelines::label_names(model.config());
}

TextClassificationPipeline::TextClassificationPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer,
                                                       TextClassificationOptions options)
    : TextClassificationPipeline(*model, std::move(tokenizer), std::move(options)) {
  adopt(std::move(model));
}

std::vector<std::vector<LabelScore>> TextClassificationPipeline::operator()(const std::vector<std::string>& texts,
                                                                            const std::vector<std::string>* pairs) {
  std::vector<Encoding> encodings;
  std::vector<size_t> owner;  // the text each encoding belongs to
  if (options().stride > 0 && pairs == nullptr) {
    for (size_t text = 0; text < texts.size(); ++text) {
      for (auto& window : tokenizer().encode_windows(texts[text], max_length(), options().stride)) {
        encodings.push_back(std::move(window));
        owner.push_back(text);
      }
    }
  } else {
    encodings = encode_truncated(texts, pairs);
    owner.resize(texts.size());
    std::iota(owner.begin(), owner.end(), 0);
  }
  std::vector<std::vector<LabelScore>> results;
  for (const auto& text_scores : mean_scores(encodings, owner, texts.size(), function_)) {
    results.push_back(ranked(text_scores, top_k_));
  }
  return results;
}

std::vector<std::vector<LabelScore>> TextClassificationPipeline::classify(const std::vector<Encoding>& encodings,
                                                                          bool raw_scores) {
  std::vector<size_t> owner(encodings.size());
  std::iota(owner.begin(), owner.end(), 0);
  std::vector<std::vector<LabelScore>> results;
  const ScoreFunction function = raw_scores ? ScoreFunction::None : function_;
  for (const auto& scores : mean_scores(encodings, owner, encodings.size(), function)) {
    results.push_back(ranked(scores, 0));
  }
  return results;
}

// The top_k best labels (0: all), best first.
std::vector<LabelScore> TextClassificationPipeline::ranked(const std::vector<float>& scores, int64_t top_k) const {
  std::vector<LabelScore> labels;
  const int64_t k = top_k == 0 ? static_cast<int64_t>(scores.size()) : top_k;
  for (const int64_t id : pipelines::top_indices(scores, k)) {
    labels.push_back({labels_[static_cast<size_t>(id)], scores[static_cast<size_t>(id)]});
  }
  return labels;
}

// A text split into windows scores the mean of its windows' scores (probabilities, not logits, are averaged).
std::vector<std::vector<float>> TextClassificationPipeline::mean_scores(const std::vector<Encoding>& encodings,
                                                                        const std::vector<size_t>& owner,
                                                                        size_t texts, ScoreFunction function) {
  std::vector<std::vector<float>> sums(texts, std::vector<float>(labels_.size(), 0.0F));
  std::vector<int64_t> counts(texts, 0);
  run_batches(encodings, [&](const BatchOutput& batch) {
    const Tensor& logits_of_rows = batch.model.logits;  // [B, C]
    const int64_t classes = logits_of_rows.dim(1);
    for (size_t row = 0; row < batch.members.size(); ++row) {
      const size_t text = owner[batch.members[row]];
      // host-only: run_batches copies the outputs to the CPU
      const float* logits = logits_of_rows.data<float>() + static_cast<int64_t>(row) * classes;
      const auto scores = apply(function, {logits, static_cast<size_t>(classes)});
      for (size_t label = 0; label < scores.size(); ++label) sums[text][label] += scores[label];
      ++counts[text];
    }
  });
  for (size_t text = 0; text < texts; ++text) {
    for (float& value : sums[text]) value /= static_cast<float>(counts[text]);
  }
  return sums;
}

}  // namespace graft
