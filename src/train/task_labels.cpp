#include "graft/train/task_labels.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace graft {
namespace {

bool is_placeholder(const std::map<int64_t, std::string>& id2label) {
  for (const auto& [id, name] : id2label) {
    if (name != "LABEL_" + std::to_string(id)) return false;
  }
  return true;
}

}  // namespace

int64_t model_input_limit(const Tokenizer& tokenizer, const ModelConfig& config) {
  return std::min(tokenizer.model_max_length(), config.max_position_embeddings);
}

bool needs_new_head(const ModelConfig& config, const TextDataset& train) {
  if (config.id2label.empty() || is_placeholder(config.id2label)) return true;
  const auto dataset_labels = LabelMap::from_labels(train.labels()).names();
  std::set<std::string> config_labels;
  for (const auto& [id, name] : config.id2label) config_labels.insert(name);
  return config_labels != std::set<std::string>(dataset_labels.begin(), dataset_labels.end());
}

LabelMap labels_for_training(const ModelConfig& config, const TextDataset& train) {
  if (needs_new_head(config, train)) return LabelMap::from_labels(train.labels());
  return LabelMap::from_id2label(config.id2label);
}

}  // namespace graft
