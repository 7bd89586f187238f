#pragma once
// What the pipelines share: loading, and arithmetic on rows of logits.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graft/models/config.h"
#include "graft/models/model.h"

namespace graft::pipelines {

// The model in `dir`, its weights on options.device, quantised to int8 with options.int8.
std::unique_ptr<Model> load_model(const std::string& dir, const PipelineOptions& options);

// exp(x - max) / sum, which cannot overflow.
std::vector<float> softmax(std::span<const float> logits);
std::vector<float> sigmoid(std::span<const float> logits);
// Indices of the k largest values, largest first (ties: lower index first); k is clamped to the size.
std::vector<int64_t> top_indices(std::span<const float> values, int64_t k);

// config.json's id2label by class id; "LABEL_{id}" where it names none, as transformers does.
std::vector<std::string> label_names(const ModelConfig& config);

}  // namespace graft::pipelines
