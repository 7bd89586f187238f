#pragma once
// The model families graft knows, each described in its own file (models/distilbert.cpp, models/bert.cpp)
// and listed in one registry (models/family.cpp). A family says how its config.json names the shared
// hyperparameters, reads and writes its own fields, builds its encoder and the heads transformers puts on
// it. Adding a family is one new file and one line in the registry.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "graft/core/json.h"
#include "graft/core/random.h"
#include "graft/models/config.h"
#include "graft/models/encoder.h"
#include "graft/models/heads.h"

namespace graft {

// How a family's config.json spells the hyperparameters every family has (ModelConfig's BERT names).
struct ConfigFieldNames {
  const char* hidden_size;
  const char* num_hidden_layers;
  const char* num_attention_heads;
  const char* intermediate_size;
  const char* hidden_act;
  const char* hidden_dropout;
  const char* attention_dropout;
  const char* classifier_dropout;
};

using HeadBuilder = std::unique_ptr<Head> (*)(const ModelConfig& config, Generator* dropout_generator);

struct ModelFamily {
  const char* model_type;           // config.json's model_type, and the encoder's name inside a model
  const char* architecture_prefix;  // "DistilBert" in "DistilBertForSequenceClassification"
  const char* blocks_path;          // the encoder's blocks under its name: "transformer.layer"
  ConfigFieldNames names;
  // The family's own fields and defaults, after the shared ones are read; errors through `fields.fail`.
  void (*read_config)(const JsonFields& fields, ModelConfig& config);
  void (*write_config)(const ModelConfig& config, nlohmann::json& out);
  // With zero-initialised weights; with_pooler only matters to a family that has one.
  std::unique_ptr<Encoder> (*make_encoder)(const ModelConfig& config, Generator* dropout_generator, bool with_pooler);
  HeadBuilder sequence_classification;
  HeadBuilder token_classification;
  HeadBuilder question_answering;
  // Its decoder shares the encoder's word embeddings.
  std::unique_ptr<Head> (*masked_lm)(const ModelConfig& config, Encoder& encoder);
};

// The family registered for model_type; graft::Error naming `source` and the known families otherwise.
const ModelFamily& model_family(std::string_view model_type, const std::string& source);

}  // namespace graft
