#pragma once
// Arithmetic on rows of logits shared by the pipelines.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graft/io/config.h"

namespace graft::pipelines {

// exp(x - max) / sum, which cannot overflow.
std::vector<float> softmax(std::span<const float> logits);
std::vector<float> sigmoid(std::span<const float> logits);
// Indices of the k largest values, largest first (ties: lower index first); k is clamped to the size.
std::vector<int64_t> top_indices(std::span<const float> values, int64_t k);

// config.json's id2label by class id; "LABEL_{id}" where it names none, as transformers does.
std::vector<std::string> label_names(const ModelConfig& config);

}  // namespace graft::pipelines
