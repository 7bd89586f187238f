#include "graft/models/config.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "graft/core/allocator.h"
#include "graft/core/error.h"
#include "graft/io/file.h"
#include "graft/models/family.h"

namespace graft {
namespace {

using nlohmann::json;

struct TaskHeadSpelling {
  TaskHead head;
  const char* flag;
  const char* architecture_suffix;
};

constexpr std::array<TaskHeadSpelling, 5> kTaskHeads = {{
    {TaskHead::Base, "base", "Model"},
    {TaskHead::SequenceClassification, "sequence-classification", "ForSequenceClassification"},
    {TaskHead::TokenClassification, "token-classification", "ForTokenClassification"},
    {TaskHead::MaskedLM, "masked-lm", "ForMaskedLM"},
    {TaskHead::QuestionAnswering, "question-answering", "ForQuestionAnswering"},
}};

constexpr std::array<const char*, 3> kProblemTypes = {"single_label_classification", "multi_label_classification",
                                                      "regression"};

void read_labels(const JsonFields& reader, ModelConfig& config) {
  if (reader.present("id2label")) {
    for (const auto& [key, value] : reader.field("id2label", &json::is_object, "an object").items()) {
      int64_t id = -1;
      const auto parsed = std::from_chars(key.data(), key.data() + key.size(), id);
      if (parsed.ec != std::errc() || parsed.ptr != key.data() + key.size()) {
        reader.fail("id2label key \"" + key + "\" is not an integer");
      }
      if (!value.is_string()) reader.fail("id2label value of \"" + key + "\" must be a string, got " + value.dump());
      config.id2label[id] = value.get<std::string>();
    }
    const auto count = static_cast<int64_t>(config.id2label.size());
    if (count == 0) reader.fail("id2label is empty");
    if (config.id2label.begin()->first != 0 || config.id2label.rbegin()->first != count - 1) {
      reader.fail("id2label keys must be 0.." + std::to_string(count - 1));
    }
    config.num_labels = count;
  } else {
    const int64_t count = reader.integer("num_labels", 2);
    if (count < 1) reader.fail("num_labels must be at least 1, got " + std::to_string(count));
    // Each label is a row of the classifier and a name, made here: refused before millions of names are.
    if (count > kMaxLabels) {
      reader.fail("num_labels " + std::to_string(count) + " is more than graft's limit of " +
                  std::to_string(kMaxLabels) + " classes");
    }
    const double bytes = static_cast<double>(count) * (static_cast<double>(config.hidden_size) * 4.0 + 64.0);
    if (const double available = available_memory_bytes(); bytes > available) {
      reader.fail("num_labels " + std::to_string(count) + " needs " + gigabytes(bytes) +
                  " for the classifier and the label names, more than the " + gigabytes(available) + " available");
    }
    config.set_num_labels(count);
  }
  if (reader.present("label2id")) {
    config.label2id.clear();
    for (const auto& [label, id] : reader.field("label2id", &json::is_object, "an object").items()) {
      if (!id.is_number_integer())
        reader.fail("label2id value of \"" + label + "\" must be an integer, got " + id.dump());
      config.label2id[label] = id.get<int64_t>();
    }
  } else {
    config.label2id.clear();
    for (const auto& [id, label] : config.id2label) config.label2id[label] = id;
  }
}

void read_task_fields(const JsonFields& reader, ModelConfig& config) {
  if (reader.present("problem_type")) {
    const std::string problem = reader.string("problem_type", "");
    if (std::find(kProblemTypes.begin(), kProblemTypes.end(), problem) == kProblemTypes.end()) {
      reader.fail("unknown problem_type \"" + problem +
                  "\" (expected single_label_classification, multi_label_classification or regression)");
    }
    config.problem_type = problem;
  }
  if (reader.present("architectures")) {
    for (const auto& name : reader.field("architectures", &json::is_array, "a list of strings")) {
      if (!name.is_string()) reader.fail("field \"architectures\" must be a list of strings, got " + name.dump());
      config.architectures.push_back(name.get<std::string>());
    }
  }
}

constexpr const char* kInt8Scheme =
    "compressed-tensors' int-quantized form with int8 weights per channel and int8 activations per token (dynamic, "
    "symmetric)";

json int8_arguments(const char* strategy, bool dynamic) {
  return {{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", strategy}, {"dynamic", dynamic}};
}

void require_int8_arguments(const json& group, const char* part, const char* strategy, bool dynamic,
                            const JsonFields& reader) {
  const json expected = int8_arguments(strategy, dynamic);
  bool matches = group.contains(part) && group[part].is_object();
  for (const auto& [key, value] : expected.items()) {
    matches = matches && group[part].contains(key) && group[part][key] == value;
  }
  if (!matches) {
    reader.fail(std::string(part) + " must be " + expected.dump() + " (graft reads " + kInt8Scheme + "), got " +
                (group.contains(part) ? group[part].dump() : "none"));
  }
}

bool read_quantization(const JsonFields& reader, const std::string& source) {
  if (!reader.present("quantization_config")) return false;
  const json& quantization = reader.field("quantization_config", &json::is_object, "an object");
  const std::string where = source + ": quantization_config";
  const JsonFields fields(quantization, "config", where);
  if (fields.string("quant_method", "") != "compressed-tensors" || fields.string("format", "") != "int-quantized") {
    fields.fail("quant_method \"" + fields.string("quant_method", "") + "\" and format \"" +
                fields.string("format", "") + "\" are not what graft reads: " + kInt8Scheme);
  }
  const json& groups = fields.required("config_groups", &json::is_object, "an object");
  if (groups.empty()) fields.fail("config_groups is empty");
  for (const auto& [name, group] : groups.items()) {
    const std::string group_where = where + ".config_groups." + name;
    const JsonFields group_fields(group, "config", group_where);
    if (!group.is_object()) group_fields.fail("must be an object, got " + group.dump());
    require_int8_arguments(group, "weights", "channel", false, group_fields);
    require_int8_arguments(group, "input_activations", "token", true, group_fields);
  }
  return true;
}

void validate(const JsonFields& reader, const ModelFamily& family, const ModelConfig& config) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", config.vocab_size},
      {family.names.hidden_size, config.hidden_size},
      {family.names.num_hidden_layers, config.num_hidden_layers},
      {family.names.num_attention_heads, config.num_attention_heads},
      {family.names.intermediate_size, config.intermediate_size},
      {"max_position_embeddings", config.max_position_embeddings},
  };
  for (const auto& [name, value] : sizes) {
    if (value < 1) reader.fail("field \"" + std::string(name) + "\" must be positive, got " + std::to_string(value));
  }
  if (config.hidden_size % config.num_attention_heads != 0) {
    reader.fail(std::string(family.names.hidden_size) + " " + std::to_string(config.hidden_size) +
                " is not a multiple of " + family.names.num_attention_heads + " " +
                std::to_string(config.num_attention_heads));
  }
  if (config.hidden_act != "gelu" && config.hidden_act != "relu") {
    reader.fail("unsupported " + std::string(family.names.hidden_act) + " \"" + config.hidden_act +
                "\" (graft supports gelu and relu)");
  }
  const std::pair<const char*, double> probabilities[] = {
      {family.names.hidden_dropout, config.hidden_dropout},
      {family.names.attention_dropout, config.attention_dropout},
      {family.names.classifier_dropout, config.classifier_dropout},
      {"qa_dropout", config.qa_dropout},
  };
  for (const auto& [name, value] : probabilities) {
    if (!(value >= 0.0 && value < 1.0))
      reader.fail(std::string(name) + " must be in [0, 1), got " + std::to_string(value));
  }
  if (config.pad_token_id >= config.vocab_size || config.pad_token_id < -1) {
    reader.fail("pad_token_id " + std::to_string(config.pad_token_id) + " is outside the vocabulary of " +
                std::to_string(config.vocab_size));
  }
}

bool labels_are_default(const ModelConfig& config) {
  return config.id2label == std::map<int64_t, std::string>{{0, "LABEL_0"}, {1, "LABEL_1"}};
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& object, const std::string& source) {
  check(object.is_object(), "config", source + ": config must be a JSON object");
  const JsonFields reader(object, "config", source);
  ModelConfig config;
  config.raw = object;
  if (!reader.present("model_type")) reader.fail("missing required field \"model_type\"");
  config.model_type = reader.string("model_type", "");
  const ModelFamily& family = model_family(config.model_type, source);

  config.vocab_size = reader.required_integer("vocab_size");
  config.hidden_size = reader.required_integer(family.names.hidden_size);
  config.num_hidden_layers = reader.required_integer(family.names.num_hidden_layers);
  config.num_attention_heads = reader.required_integer(family.names.num_attention_heads);
  config.intermediate_size = reader.required_integer(family.names.intermediate_size);
  config.max_position_embeddings = reader.required_integer("max_position_embeddings");
  config.hidden_act = reader.string(family.names.hidden_act, "gelu");
  config.hidden_dropout = reader.number(family.names.hidden_dropout, 0.1);
  config.attention_dropout = reader.number(family.names.attention_dropout, 0.1);
  config.initializer_range = reader.number("initializer_range", 0.02);
  config.tie_word_embeddings = reader.boolean("tie_word_embeddings", true);
  config.pad_token_id =
      object.contains("pad_token_id") && object["pad_token_id"].is_null() ? -1 : reader.integer("pad_token_id", 0);
  family.read_config(reader, config);
  read_labels(reader, config);
  read_task_fields(reader, config);
  config.quantized_int8 = read_quantization(reader, source);
  validate(reader, family, config);
  return config;
}

json int8_quantization_config(const std::vector<std::string>& ignored) {
  return {{"quant_method", "compressed-tensors"},
          {"format", "int-quantized"},
          {"quantization_status", "compressed"},
          {"config_groups",
           {{"group_0",
             {{"targets", {"Linear"}},
              {"weights", int8_arguments("channel", false)},
              {"input_activations", int8_arguments("token", true)}}}}},
          {"ignore", ignored}};
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  return from_json(read_json_file(path), path);
}

json ModelConfig::to_json() const {
  const ModelFamily& family = model_family(model_type, "to_json");
  json out = raw.is_object() ? raw : json::object();
  out["model_type"] = model_type;
  out["vocab_size"] = vocab_size;
  out[family.names.hidden_size] = hidden_size;
  out[family.names.num_hidden_layers] = num_hidden_layers;
  out[family.names.num_attention_heads] = num_attention_heads;
  out[family.names.intermediate_size] = intermediate_size;
  out[family.names.hidden_act] = hidden_act;
  out[family.names.hidden_dropout] = hidden_dropout;
  out[family.names.attention_dropout] = attention_dropout;
  out["max_position_embeddings"] = max_position_embeddings;
  out["initializer_range"] = initializer_range;
  out["tie_word_embeddings"] = tie_word_embeddings;
  out["pad_token_id"] = pad_token_id < 0 ? json(nullptr) : json(pad_token_id);
  family.write_config(*this, out);
  // transformers leaves the default two LABEL_i labels out of config.json.
  if (raw.contains("id2label") || !labels_are_default(*this)) {
    json names = json::object();
    for (const auto& [id, label] : id2label) names[std::to_string(id)] = label;
    out["id2label"] = names;
    out["label2id"] = label2id;
  }
  if (out.contains("num_labels")) out["num_labels"] = num_labels;
  if (problem_type) {
    out["problem_type"] = *problem_type;
  } else if (out.contains("problem_type")) {
    out["problem_type"] = nullptr;
  }
  if (!architectures.empty()) {
    out["architectures"] = architectures;
  } else if (out.contains("architectures")) {
    out["architectures"] = nullptr;
  }
  return out;
}

void ModelConfig::set_labels(const std::vector<std::string>& names) {
  check(!names.empty(), "config", "the label list is empty");
  id2label.clear();
  label2id.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    check(label2id.emplace(names[i], static_cast<int64_t>(i)).second, "config", "duplicate label \"" + names[i] + "\"");
    id2label[static_cast<int64_t>(i)] = names[i];
  }
  num_labels = static_cast<int64_t>(names.size());
}

void ModelConfig::set_num_labels(int64_t count) {
  check(count >= 1, "config", "num_labels must be at least 1, got " + std::to_string(count));
  std::vector<std::string> names;
  for (int64_t i = 0; i < count; ++i) names.push_back("LABEL_" + std::to_string(i));
  set_labels(names);
}

TaskHead head_from_architectures(const ModelConfig& config) {
  for (const std::string& name : config.architectures) {
    if (name.ends_with("ForPreTraining")) return TaskHead::MaskedLM;
    for (const auto& spelling : kTaskHeads) {
      if (name.ends_with(spelling.architecture_suffix)) return spelling.head;
    }
  }
  return TaskHead::Base;
}

std::string architecture_name(const std::string& model_type, TaskHead head) {
  const ModelFamily& family = model_family(model_type, "architecture");
  for (const auto& spelling : kTaskHeads) {
    if (spelling.head == head) return std::string(family.architecture_prefix) + spelling.architecture_suffix;
  }
  throw Error("[config] unknown task head");
}

TaskHead parse_task_head(std::string_view name) {
  for (const auto& spelling : kTaskHeads) {
    if (name == spelling.flag) return spelling.head;
  }
  throw Error("[config] unknown task head \"" + std::string(name) +
              "\" (expected base, sequence-classification, token-classification, masked-lm or question-answering)");
}

std::string_view task_head_name(TaskHead head) {
  for (const auto& spelling : kTaskHeads) {
    if (spelling.head == head) return spelling.flag;
  }
  return "?";
}

}  // namespace graft
