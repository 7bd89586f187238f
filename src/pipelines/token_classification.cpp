#include "graft/pipelines/token_classification.h"

#include <algorithm>
#include <tuple>

#include "graft/core/error.h"
#include "graft/tokenizer/utf8.h"
#include "pipelines/pipeline_support.h"

namespace graft {
namespace {

bool is_ignored(const std::string& label, const std::vector<std::string>& ignore_labels) {
  return std::find(ignore_labels.begin(), ignore_labels.end(), label) != ignore_labels.end();
}

// "B-PER" -> ("B", "PER"); "I-PER" -> ("I", "PER"); a label outside the B-/I- scheme continues a group.
std::pair<char, std::string> split_tag(const std::string& label) {
  if (label.rfind("B-", 0) == 0) return {'B', label.substr(2)};
  if (label.rfind("I-", 0) == 0) return {'I', label.substr(2)};
  return {'I', label};
}

std::string code_point_span(const std::u32string& text, int64_t start, int64_t end) {
  std::string span;
  for (int64_t i = start; i < end && i < static_cast<int64_t>(text.size()); ++i) {
    tokenizer::append_utf8(span, text[static_cast<size_t>(i)]);
  }
  return span;
}

EntityGroup merge(const std::vector<TokenEntity>& pieces, const std::u32string& text) {
  float sum = 0.0F;
  for (const auto& piece : pieces) sum += piece.score;
  EntityGroup group;
  group.entity_group = split_tag(pieces.front().entity).second;
  group.score = sum / static_cast<float>(pieces.size());
  group.start = pieces.front().start;
  group.end = pieces.back().end;
  group.word = code_point_span(text, group.start, group.end);
  return group;
}

// The index in `full` of the token a window's first text token is: no two tokens of a text share a
// character span.
size_t locate(const Encoding& full, const std::pair<int64_t, int64_t>& offset) {
  for (size_t i = 0; i < full.size(); ++i) {
    if (full.special_tokens_mask[i] == 0 && full.offsets[i] == offset) return i;
  }
  throw Error("[token-classification] a window's token is not in the text's encoding");
}

// The most probable label of one token, and its probability.
std::pair<int64_t, float> best_label(const float* logits, int64_t classes) {
  const auto probabilities = pipelines::softmax({logits, static_cast<size_t>(classes)});
  const int64_t label = pipelines::top_indices(probabilities, 1).front();
  return {label, probabilities[static_cast<size_t>(label)]};
}

}  // namespace

std::vector<EntityGroup> group_entities(const std::vector<TokenEntity>& tokens, const std::string& text,
                                        const std::vector<std::string>& ignore_labels) {
  const std::u32string code_points = tokenizer::decode_utf8(text);
  std::vector<EntityGroup> groups;
  std::vector<TokenEntity> pieces;
  const auto flush = [&] {
    if (pieces.empty()) return;
    EntityGroup group = merge(pieces, code_points);
    if (!is_ignored(group.entity_group, ignore_labels)) groups.push_back(std::move(group));
    pieces.clear();
  };
  for (const auto& token : tokens) {
    const auto [boundary, type] = split_tag(token.entity);
    if (!pieces.empty() && (boundary == 'B' || type != split_tag(pieces.back().entity).second)) flush();
    pieces.push_back(token);
  }
  flush();
  return groups;
}

nlohmann::json entities_json(const TokenClassificationResult& result, bool grouped) {
  nlohmann::json list = nlohmann::json::array();
  if (grouped) {
    for (const EntityGroup& group : result.groups) {
      list.push_back({{"entity_group", group.entity_group},
                      {"score", group.score},
                      {"word", group.word},
                      {"start", group.start},
                      {"end", group.end}});
    }
    return list;
  }
  for (const TokenEntity& piece : result.entities) {
    list.push_back({{"entity", piece.entity},
                    {"score", piece.score},
                    {"index", piece.index},
                    {"word", piece.word},
                    {"start", piece.start},
                    {"end", piece.end}});
  }
  return list;
}

TokenClassificationPipeline TokenClassificationPipeline::from_pretrained(const std::string& dir,
                                                                         TokenClassificationOptions options) {
  auto model = pipelines::load_model(dir, options);
  Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  return TokenClassificationPipeline(std::move(model), std::move(tokenizer), std::move(options));
}

TokenClassificationPipeline::TokenClassificationPipeline(Model& model, Tokenizer tokenizer,
                                                         TokenClassificationOptions options)
    : Pipeline(model, std::move(tokenizer), options),
      ignore_labels_(std::move(options.ignore_labels)),
      labels_(pipelines::label_names(model.config())) {
  require_task(TaskHead::TokenClassification, "token-classification");
}

TokenClassificationPipeline::TokenClassificationPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer,
                                                         TokenClassificationOptions options)
    : TokenClassificationPipeline(*model, std::move(tokenizer), std::move(options)) {
  adopt(std::move(model));
}

std::vector<TokenClassificationResult> TokenClassificationPipeline::operator()(const std::vector<std::string>& texts) {
  if (options().stride == 0) return tag(encode_truncated(texts), texts);
  std::vector<TokenClassificationResult> results;
  for (const auto& text : texts) results.push_back(entities_of(predict_windows(text), text));
  return results;
}

std::vector<TokenClassificationResult> TokenClassificationPipeline::tag(const std::vector<Encoding>& encodings,
                                                                        const std::vector<std::string>& texts) {
  check(encodings.size() == texts.size(), "token-classification",
        std::to_string(encodings.size()) + " encodings for " + std::to_string(texts.size()) + " texts");
  const std::vector<Prediction> predictions = predict(encodings);
  std::vector<TokenClassificationResult> results;
  for (size_t text = 0; text < texts.size(); ++text) results.push_back(entities_of(predictions[text], texts[text]));
  return results;
}

std::vector<TokenClassificationPipeline::Prediction> TokenClassificationPipeline::predict(
    const std::vector<Encoding>& encodings) {
  std::vector<Prediction> predictions;
  for (const auto& encoding : encodings) {
    const size_t tokens = encoding.size();
    predictions.push_back({encoding, std::vector<int64_t>(tokens), std::vector<float>(tokens)});
  }
  run_batches(encodings, [&](const BatchOutput& batch) {
    const int64_t classes = batch.model.logits.dim(1);  // [N, C]
    for (size_t row = 0; row < batch.members.size(); ++row) {
      Prediction& prediction = predictions[batch.members[row]];
      for (size_t t = 0; t < prediction.encoding.size(); ++t) {
        const float* logits = batch.token(batch.model.logits, row, static_cast<int64_t>(t));
        std::tie(prediction.labels[t], prediction.scores[t]) = best_label(logits, classes);
      }
    }
  });
  return predictions;
}

// Each token keeps the prediction of the window where it is farthest from both edges of the window's text
// (the earlier window on a tie), so that it was seen with as much context as possible on either side.
TokenClassificationPipeline::Prediction TokenClassificationPipeline::predict_windows(const std::string& text) {
  Prediction prediction{tokenizer().encode(text), {}, {}};
  const size_t tokens = prediction.encoding.size();
  prediction.labels.assign(tokens, 0);
  prediction.scores.assign(tokens, 0.0F);
  // (centrality, -window index) of the window each token's prediction comes from: batches may come in any
  // order of windows.
  std::vector<std::pair<int64_t, int64_t>> best(tokens, {-1, 0});
  const std::vector<Encoding> windows = tokenizer().encode_windows(text, max_length(), options().stride);
  run_batches(windows, [&](const BatchOutput& batch) {
    const int64_t classes = batch.model.logits.dim(1);  // [N, C]
    for (size_t row = 0; row < batch.members.size(); ++row) {
      const size_t window_index = batch.members[row];
      const Encoding& window = windows[window_index];
      const int64_t text_tokens = static_cast<int64_t>(window.size()) - 2;  // between [CLS] and [SEP]
      if (text_tokens <= 0) continue;
      const size_t window_start = locate(prediction.encoding, window.offsets[1]);
      for (int64_t p = 0; p < text_tokens; ++p) {
        const size_t token = window_start + static_cast<size_t>(p);
        const std::pair<int64_t, int64_t> rank{std::min(p, text_tokens - 1 - p), -static_cast<int64_t>(window_index)};
        if (rank <= best[token]) continue;
        best[token] = rank;
        const float* logits = batch.token(batch.model.logits, row, p + 1);
        std::tie(prediction.labels[token], prediction.scores[token]) = best_label(logits, classes);
      }
    }
  });
  return prediction;
}

TokenClassificationResult TokenClassificationPipeline::entities_of(const Prediction& prediction,
                                                                   const std::string& text) const {
  std::vector<TokenEntity> tokens;
  const Encoding& encoding = prediction.encoding;
  for (size_t t = 0; t < encoding.size(); ++t) {
    if (encoding.special_tokens_mask[t] != 0) continue;
    tokens.push_back({labels_[static_cast<size_t>(prediction.labels[t])], prediction.scores[t], static_cast<int64_t>(t),
                      encoding.tokens[t], encoding.offsets[t].first, encoding.offsets[t].second});
  }
  TokenClassificationResult result;
  result.groups = group_entities(tokens, text, ignore_labels_);
  for (auto& token : tokens) {
    if (!is_ignored(token.entity, ignore_labels_)) result.entities.push_back(std::move(token));
  }
  return result;
}

}  // namespace graft
