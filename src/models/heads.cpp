#include "graft/models/heads.h"

#include "graft/core/error.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

void add_dropout(Sequential& layers, const char* name, float p, Generator* generator) {
  layers.add(name, std::make_unique<Dropout>(p, generator));
}

// DistilBertForSequenceClassification: pre_classifier -> ReLU -> dropout -> classifier on [CLS];
// BertForSequenceClassification: dropout -> classifier on the pooler output.
std::unique_ptr<Head> sequence_classification(const ModelConfig& config, Generator* generator) {
  const bool distilbert = config.model_type == "distilbert";
  auto head = std::make_unique<Head>(distilbert ? HeadInput::FirstToken : HeadInput::Pooled);
  Sequential& layers = head->layers();
  if (distilbert) {
    layers.add("pre_classifier", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
    layers.add("relu", std::make_unique<ActivationLayer>(Activation::Relu));
  }
  add_dropout(layers, "dropout", config.classifier_dropout, generator);
  layers.add("classifier", std::make_unique<Linear>(config.hidden_size, config.num_labels));
  return head;
}

std::unique_ptr<Head> token_classification(const ModelConfig& config, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  const float p = config.model_type == "distilbert" ? config.hidden_dropout : config.classifier_dropout;
  add_dropout(head->layers(), "dropout", p, generator);
  head->layers().add("classifier", std::make_unique<Linear>(config.hidden_size, config.num_labels));
  return head;
}

std::unique_ptr<Head> question_answering(const ModelConfig& config, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  if (config.model_type == "distilbert") add_dropout(head->layers(), "dropout", config.qa_dropout, generator);
  head->layers().add("qa_outputs", std::make_unique<Linear>(config.hidden_size, 2));
  return head;
}

// transform (dense -> activation -> LayerNorm), then the decoder tied to the word embeddings.
std::unique_ptr<Head> masked_lm(const ModelConfig& config, Encoder& encoder) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  const Activation activation = activation_named(config.hidden_act);
  Parameter& embeddings = encoder.word_embeddings().weight;
  if (config.model_type == "distilbert") {
    Sequential& layers = head->layers();
    layers.add("vocab_transform", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
    layers.add("activation", std::make_unique<ActivationLayer>(activation));
    layers.add("vocab_layer_norm", std::make_unique<LayerNorm>(config.hidden_size, 1e-12F));
    layers.add("vocab_projector", std::make_unique<TiedLinear>(embeddings));
    return head;
  }
  auto cls = std::make_unique<Sequential>();
  auto predictions = std::make_unique<Sequential>();
  auto transform = std::make_unique<Sequential>();
  transform->add("dense", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
  transform->add("activation", std::make_unique<ActivationLayer>(activation));
  transform->add("LayerNorm", std::make_unique<LayerNorm>(config.hidden_size, config.layer_norm_eps));
  predictions->add("transform", std::move(transform));
  predictions->add("", std::make_unique<TiedLinear>(embeddings));  // its bias is cls.predictions.bias
  cls->add("predictions", std::move(predictions));
  head->layers().add("cls", std::move(cls));
  return head;
}

}  // namespace

Head::Head(HeadInput input) : input_(input) {
  register_module("", layers_);
}

Tensor Head::read(const EncoderOutput& encoded) const {
  switch (input_) {
    case HeadInput::FirstToken: return ops::first_token(encoded.last_hidden_state);
    case HeadInput::Pooled:
      check(encoded.pooled.numel() > 0, "head", "this head reads the pooler output, but the encoder has no pooler");
      return encoded.pooled;
    case HeadInput::AllTokens: return encoded.last_hidden_state;
  }
  return {};
}

std::unique_ptr<Head> make_head(TaskHead task, const ModelConfig& config, Encoder& encoder, Generator* generator) {
  switch (task) {
    case TaskHead::SequenceClassification: return sequence_classification(config, generator);
    case TaskHead::TokenClassification: return token_classification(config, generator);
    case TaskHead::QuestionAnswering: return question_answering(config, generator);
    case TaskHead::MaskedLM: return masked_lm(config, encoder);
    case TaskHead::Base: return nullptr;
  }
  return nullptr;
}

}  // namespace graft
