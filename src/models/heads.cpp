#include "graft/models/heads.h"

#include "graft/core/error.h"
#include "graft/models/family.h"
#include "graft/ops/ops.h"

namespace graft {
void add_dropout(Sequential& layers, float p, Generator* generator) {
  layers.add("dropout", std::make_unique<Dropout>(p, generator));
}

std::unique_ptr<Head> token_classifier(const ModelConfig& config, float p, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  add_dropout(head->layers(), p, generator);
  head->layers().add("classifier", std::make_unique<Linear>(config.hidden_size, config.num_labels));
  return head;
}

Head::Head(HeadInput input) : input_(input) {
  register_module("", layers_);
}

Tensor Head::read(const EncoderOutput& encoded) const {
  switch (input_) {
    case HeadInput::FirstToken: return first_tokens(encoded.last_hidden_state, encoded.sequence_offsets);
    case HeadInput::Pooled:
      check(encoded.pooled.numel() > 0, "head", "this head reads the pooler output, but the encoder has no pooler");
      return encoded.pooled;
    case HeadInput::AllTokens: return encoded.last_hidden_state;
  }
  return {};
}

std::unique_ptr<Head> make_head(TaskHead task, const ModelConfig& config, Encoder& encoder, Generator* generator) {
  const ModelFamily& family = model_family(config.model_type, "model");
  switch (task) {
    case TaskHead::SequenceClassification: return family.sequence_classification(config, generator);
    case TaskHead::TokenClassification: return family.token_classification(config, generator);
    case TaskHead::QuestionAnswering: return family.question_answering(config, generator);
    case TaskHead::MaskedLM: return family.masked_lm(config, encoder);
    case TaskHead::Base: return nullptr;
  }
  return nullptr;
}

}  // namespace graft
