#include "serve/requests.h"

namespace graft::serve {

using nlohmann::json;

RequestError validation_error(int status, const std::string& message) {
  return {status, message, "validation"};
}

namespace {

std::string string_at(const json& value, const std::string& where) {
  if (!value.is_string()) {
    throw validation_error(422, where + " must be a string, got " + std::string(value.type_name()));
  }
  return value.get<std::string>();
}

// TEI's sequence: "text", ["text"] or ["first", "second"].
Sequence sequence_of(const json& value, const std::string& where) {
  if (value.is_string()) return {value.get<std::string>(), std::nullopt};
  if (value.is_array() && (value.size() == 1 || value.size() == 2)) {
    Sequence sequence{string_at(value[0], where + "[0]"), std::nullopt};
    if (value.size() == 2) sequence.second = string_at(value[1], where + "[1]");
    return sequence;
  }
  // The type, not the value: dump() recurses once per level of nesting, and a body may nest thousands deep.
  throw validation_error(
      422, where + " must be a string, [text] or [first, second], got " +
               (value.is_array() ? "a list of " + std::to_string(value.size()) : std::string(value.type_name())));
}

const json& field(const json& body, const char* name) {
  if (!body.is_object() || !body.contains(name)) {
    throw validation_error(422, std::string("the request body has no `") + name + "`");
  }
  return body[name];
}

// An optional field: null or absent when the request leaves it out.
const json* optional_field(const json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) return nullptr;
  return &body[name];
}

bool flag(const json& body, const char* name, bool fallback) {
  const json* value = optional_field(body, name);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    throw validation_error(422,
                           std::string("`") + name + "` must be a boolean, got " + std::string(value->type_name()));
  }
  return value->get<bool>();
}

// A text or a list of texts, from the field `name`.
Inputs texts_in(const json& body, const char* name) {
  const json& inputs = field(body, name);
  const std::string where = std::string("`") + name + "`";
  if (inputs.is_string()) return {{{inputs.get<std::string>(), std::nullopt}}, false};
  if (!inputs.is_array()) {
    throw validation_error(422,
                           where + " must be a string or a list of strings, got " + std::string(inputs.type_name()));
  }
  Inputs batch{{}, true};
  for (size_t i = 0; i < inputs.size(); ++i) {
    batch.sequences.push_back({string_at(inputs[i], where + "[" + std::to_string(i) + "]"), std::nullopt});
  }
  return batch;
}

std::vector<int64_t> ids_of(const json& value, const std::string& where) {
  if (!value.is_array()) throw validation_error(422, where + " must be a list of token ids");
  std::vector<int64_t> ids;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_number_integer()) {
      throw validation_error(422, where + "[" + std::to_string(i) + "] must be an integer token id");
    }
    ids.push_back(value[i].get<int64_t>());
  }
  return ids;
}

}  // namespace

PredictRequest predict_request(const json& body) {
  const json& inputs = field(body, "inputs");
  PredictRequest request;
  // A list whose items are lists is a batch; anything else one sequence.
  if (inputs.is_array() && (inputs.empty() || inputs[0].is_array())) {
    request.inputs.batch = true;
    for (size_t i = 0; i < inputs.size(); ++i) {
      request.inputs.sequences.push_back(sequence_of(inputs[i], "`inputs[" + std::to_string(i) + "]`"));
    }
  } else {
    request.inputs.sequences.push_back(sequence_of(inputs, "`inputs`"));
  }
  request.truncate = flag(body, "truncate", false);
  request.raw_scores = flag(body, "raw_scores", false);
  return request;
}

EmbedRequest embed_request(const json& body) {
  return {texts_in(body, "inputs"), flag(body, "truncate", false), flag(body, "normalize", true)};
}

EmbedRequest openai_embed_request(const json& body) {
  if (body.is_object() && body.contains("encoding_format") && body["encoding_format"] != "float") {
    throw validation_error(422, "`encoding_format` must be \"float\"");
  }
  return {texts_in(body, "input"), false, true};
}

TokenizeRequest tokenize_request(const json& body) {
  return {texts_in(body, "inputs"), flag(body, "add_special_tokens", true)};
}

RerankRequest rerank_request(const json& body) {
  RerankRequest request;
  request.query = string_at(field(body, "query"), "`query`");
  const Inputs texts = texts_in(body, "texts");
  for (const Sequence& text : texts.sequences) request.texts.push_back(text.first);
  request.truncate = flag(body, "truncate", false);
  request.raw_scores = flag(body, "raw_scores", false);
  request.return_text = flag(body, "return_text", false);
  return request;
}

DecodeRequest decode_request(const json& body) {
  const json& ids = field(body, "ids");
  DecodeRequest request;
  if (ids.is_array() && !ids.empty() && ids[0].is_array()) {
    request.batch = true;
    for (size_t i = 0; i < ids.size(); ++i) request.ids.push_back(ids_of(ids[i], "`ids[" + std::to_string(i) + "]`"));
  } else {
    request.ids.push_back(ids_of(ids, "`ids`"));
  }
  request.skip_special_tokens = flag(body, "skip_special_tokens", true);
  return request;
}

FillMaskRequest fill_mask_request(const json& body) {
  FillMaskRequest request{texts_in(body, "inputs"), flag(body, "truncate", false)};
  if (const json* top_k = optional_field(body, "top_k")) {
    if (!top_k->is_number_integer() || top_k->get<int64_t>() < 1 || top_k->get<int64_t>() > kMaxTopK) {
      throw validation_error(422, "`top_k` must be an integer in [1, " + std::to_string(kMaxTopK) + "]");
    }
    request.top_k = top_k->get<int64_t>();
  }
  return request;
}

TagRequest tag_request(const json& body) {
  TagRequest request{texts_in(body, "inputs"), flag(body, "truncate", false)};
  if (const json* strategy = optional_field(body, "aggregation_strategy")) {
    if (*strategy != "simple" && *strategy != "none") {
      throw validation_error(422, "`aggregation_strategy` must be \"simple\" or \"none\"");
    }
    request.grouped = *strategy == "simple";
  }
  return request;
}

}  // namespace graft::serve
