#pragma once
// One factory per model family; make_encoder() picks by config.model_type.
#include <memory>

#include "graft/models/encoder.h"

namespace graft {

std::unique_ptr<Encoder> make_distilbert(const ModelConfig& config, Generator* dropout_generator);
std::unique_ptr<Encoder> make_bert(const ModelConfig& config, Generator* dropout_generator, bool with_pooler);

}  // namespace graft
