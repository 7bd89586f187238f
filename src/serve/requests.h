#pragma once
// The JSON bodies of text-embeddings-inference's routes, read into structs; anything else is a RequestError
// with the status and error_type TEI answers (fuzz/serve_requests_fuzzer.cpp feeds these arbitrary JSON).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graft/core/error.h"

namespace graft::serve {

// An answer other than 200, with TEI's body {"error": what(), "error_type": type}.
class RequestError : public Error {
 public:
  RequestError(int status, const std::string& message, std::string type)
      : Error(message), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string type_;
};

// 413 and 422 are TEI's "validation" errors.
RequestError validation_error(int status, const std::string& message);

// One input: a text, or a pair of texts.
struct Sequence {
  std::string first;
  std::optional<std::string> second;
};

struct Inputs {
  std::vector<Sequence> sequences;
  bool batch = false;  // answered with a list per input
};

struct PredictRequest {
  Inputs inputs;  // "text", ["text"], ["first", "second"], or a list of those
  bool truncate = false;
  bool raw_scores = false;
};

struct EmbedRequest {
  Inputs inputs;  // "text" or ["text", ...]
  bool truncate = false;
  bool normalize = true;
};

struct TokenizeRequest {
  Inputs inputs;
  bool add_special_tokens = true;
};

struct RerankRequest {
  std::string query;
  std::vector<std::string> texts;
  bool truncate = false;
  bool raw_scores = false;
  bool return_text = false;
};

struct DecodeRequest {
  std::vector<std::vector<int64_t>> ids;  // [id, ...] or [[id, ...], ...]
  bool batch = false;
  bool skip_special_tokens = true;
};

// graft's own routes, in the shapes of transformers' fill-mask and token-classification pipelines.
constexpr int64_t kMaxTopK = 100;
struct FillMaskRequest {
  Inputs inputs;  // "text" or ["text", ...], each with at least one [MASK]
  bool truncate = false;
  int64_t top_k = 5;  // fills per mask, in [1, kMaxTopK]
};

struct TagRequest {
  Inputs inputs;  // "text" or ["text", ...]
  bool truncate = false;
  bool grouped = true;  // "aggregation_strategy": "simple" (entity groups, the default) or "none" (word pieces)
};

PredictRequest predict_request(const nlohmann::json& body);
EmbedRequest embed_request(const nlohmann::json& body);
// OpenAI's /v1/embeddings: {"input": "text" | ["text", ...], "model", "encoding_format": "float"}.
EmbedRequest openai_embed_request(const nlohmann::json& body);
TokenizeRequest tokenize_request(const nlohmann::json& body);
RerankRequest rerank_request(const nlohmann::json& body);
DecodeRequest decode_request(const nlohmann::json& body);
FillMaskRequest fill_mask_request(const nlohmann::json& body);
TagRequest tag_request(const nlohmann::json& body);

}  // namespace graft::serve
