#pragma once
// Per-token labels (named entities, parts of speech), as transformers' TokenClassificationPipeline with
// aggregation_strategy "none" (tokens) and "simple" (groups).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graft/pipelines/pipeline.h"

namespace graft {

struct TokenClassificationOptions : PipelineOptions {
  // Tokens and groups with these labels are left out of the results.
  std::vector<std::string> ignore_labels = {"O"};
};

struct TokenEntity {
  std::string entity;  // the label, e.g. "B-PER"
  float score = 0.0F;  // softmax probability of that label
  int64_t index = 0;   // position of the token in the text's encoding, [CLS] = 0
  std::string word;    // the word piece, e.g. "##son"
  int64_t start = 0;   // [start, end) in code points of the text
  int64_t end = 0;
  bool operator==(const TokenEntity&) const = default;
};

struct EntityGroup {
  std::string entity_group;  // the label without its B-/I- prefix
  float score = 0.0F;        // mean of the pieces' scores
  std::string word;          // the text's span [start, end)
  int64_t start = 0;
  int64_t end = 0;
  bool operator==(const EntityGroup&) const = default;
};

struct TokenClassificationResult {
  std::vector<TokenEntity> entities;  // every word piece whose label is not ignored
  std::vector<EntityGroup> groups;    // aggregation "simple"
  bool operator==(const TokenClassificationResult&) const = default;
};

// A text's result as transformers' token-classification pipeline gives it: the groups
// [{"entity_group", "score", "word", "start", "end"}] (aggregation "simple"), or the word pieces
// [{"entity", "score", "index", "word", "start", "end"}] (aggregation "none").
nlohmann::json entities_json(const TokenClassificationResult& result, bool grouped);

class TokenClassificationPipeline : public Pipeline {
 public:
  static TokenClassificationPipeline from_pretrained(const std::string& dir, TokenClassificationOptions options = {});
  TokenClassificationPipeline(Model& model, Tokenizer tokenizer, TokenClassificationOptions options = {});

  // With a stride, a text longer than max_length() is split into windows and each token takes its
  // prediction from the window in which it is most central (farthest from the window's edges; the
  // earlier window on a tie), where it has the most context on both sides.
  std::vector<TokenClassificationResult> operator()(const std::vector<std::string>& texts);
  // The entities of texts[i] from encodings[i], its encoding made beforehand within max_length() (as a server's
  // threads make it).
  std::vector<TokenClassificationResult> tag(const std::vector<Encoding>& encodings,
                                             const std::vector<std::string>& texts);

 private:
  TokenClassificationPipeline(std::unique_ptr<Model> model, Tokenizer tokenizer, TokenClassificationOptions options);
  // The best label of every token of a text's encoding, and its probability.
  struct Prediction {
    Encoding encoding;
    std::vector<int64_t> labels;
    std::vector<float> scores;
  };
  std::vector<Prediction> predict(const std::vector<Encoding>& encodings);
  Prediction predict_windows(const std::string& text);
  TokenClassificationResult entities_of(const Prediction& prediction, const std::string& text) const;

  std::vector<std::string> ignore_labels_;
  std::vector<std::string> labels_;
};

// Aggregation "simple" over every token's prediction (ignored labels included, so that an "O" splits two
// entities): a token continues the current group when its label has the group's type and does not start
// with "B-". Groups whose type is ignored are dropped afterwards.
std::vector<EntityGroup> group_entities(const std::vector<TokenEntity>& tokens, const std::string& text,
                                        const std::vector<std::string>& ignore_labels);

}  // namespace graft
