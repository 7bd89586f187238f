#pragma once
// config.json of a checkpoint, normalised to one set of names (BERT's), with the defaults transformers'
// config classes use for optional fields. Which fields a family names how, and which of them it has, lives
// in that family's file (models/distilbert.cpp, models/bert.cpp; the registry is models/family.h). The sizes
// that decide the weight shapes (vocab_size, hidden size, layers, heads, intermediate size,
// max_position_embeddings) are required: a silent default of 768 would only fail later, less clearly.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace graft {

// The most classes a config may have: label names are made for each, and a typo (num_labels 10000000) would
// otherwise spend seconds and gigabytes before any size is checked against the weights.
inline constexpr int64_t kMaxLabels = int64_t{1} << 20;

struct ModelConfig {
  std::string model_type;  // a registered family: "distilbert", "bert"
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;         // distilbert "dim"
  int64_t num_hidden_layers = 12;    // distilbert "n_layers"
  int64_t num_attention_heads = 12;  // distilbert "n_heads"
  int64_t intermediate_size = 3072;  // distilbert "hidden_dim"
  std::string hidden_act = "gelu";   // distilbert "activation"; "gelu" (erf) or "relu"
  int64_t max_position_embeddings = 512;
  bool sinusoidal_pos_embds = false;  // distilbert only
  double layer_norm_eps = 1e-12;      // distilbert has no field: its LayerNorms use 1e-12
  int64_t type_vocab_size = 0;        // bert only (2 by default); 0 for distilbert
  int64_t pad_token_id = 0;           // -1 where config.json says null (no padding row)
  double hidden_dropout = 0.1;        // distilbert "dropout", bert "hidden_dropout_prob"
  double attention_dropout = 0.1;     // bert "attention_probs_dropout_prob"
  // Before the sequence classifier: distilbert "seq_classif_dropout"; bert "classifier_dropout", or
  // hidden_dropout_prob when that is null (BERT's token classifier uses the same value).
  double classifier_dropout = 0.1;
  // Before DistilBertForQuestionAnswering's qa_outputs; BERT applies none there, so 0 for bert.
  double qa_dropout = 0.1;
  double initializer_range = 0.02;
  bool tie_word_embeddings = true;
  std::map<int64_t, std::string> id2label;  // ids 0..num_labels-1
  std::map<std::string, int64_t> label2id;
  int64_t num_labels = 2;
  // single_label_classification | multi_label_classification | regression
  std::optional<std::string> problem_type;
  std::vector<std::string> architectures;
  // "quantization_config" names compressed-tensors' int-quantized W8A8 form, the one graft computes
  // (Model::quantize_int8); any other quantisation is refused.
  bool quantized_int8 = false;
  nlohmann::json raw = nlohmann::json::object();  // every field of the file, as read

  // `source` names the file in error messages ("[config] SOURCE: ...").
  static ModelConfig from_json(const nlohmann::json& json, const std::string& source);
  static ModelConfig from_file(const std::string& path);
  // The field names of model_type's family, over the raw fields (unknown ones are kept).
  nlohmann::json to_json() const;

  // Replaces the labels ("LABEL_i" names for set_num_labels), as passing num_labels/id2label to
  // from_pretrained does.
  void set_labels(const std::vector<std::string>& names);
  void set_num_labels(int64_t count);
};

// config.json's "quantization_config" for a model whose Linear layers are int8 but those in `ignored` (by their
// module names): compressed-tensors' int-quantized format, weights per output channel and activations per token,
// dynamic, symmetric (what vLLM calls W8A8 int8).
nlohmann::json int8_quantization_config(const std::vector<std::string>& ignored);

enum class TaskHead { Base, SequenceClassification, TokenClassification, MaskedLM, QuestionAnswering };

// The head that AutoModelFor* would build from "architectures" (the first recognised entry):
// ...ForSequenceClassification, ...ForTokenClassification, ...ForMaskedLM (and BertForPreTraining,
// whose prediction head has the same weights), ...ForQuestionAnswering; Base otherwise.
TaskHead head_from_architectures(const ModelConfig& config);
// "DistilBertForSequenceClassification", "BertModel", ...
std::string architecture_name(const std::string& model_type, TaskHead head);
// The command-line spelling: "base", "sequence-classification", "token-classification", "masked-lm",
// "question-answering".
TaskHead parse_task_head(std::string_view name);
std::string_view task_head_name(TaskHead head);

}  // namespace graft
