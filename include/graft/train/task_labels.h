#pragma once
// What a model's config says about the data it trains on: which labels it keeps, and how long an input may be.
#include <cstdint>

#include "graft/data/dataset.h"
#include "graft/models/config.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

// The labels to train with: the config's own mapping when it names exactly the dataset's labels;
// otherwise (placeholder "LABEL_i" names, or a different label set) the dataset's labels, sorted, for
// which the caller grafts a new classifier.
LabelMap labels_for_training(const ModelConfig& config, const TextDataset& train);

// The longest input the model takes: the smaller of the tokenizer's model_max_length and the model's
// max_position_embeddings (what --max-length 0 means).
int64_t model_input_limit(const Tokenizer& tokenizer, const ModelConfig& config);

// True when labels_for_training would not keep the config's mapping.
bool needs_new_head(const ModelConfig& config, const TextDataset& train);

}  // namespace graft
