// BERT (Devlin et al. 2019), as transformers' modeling_bert: absolute positions, token types,
// post-LayerNorm blocks with dropout before each residual, and a tanh pooler on [CLS].
#include <memory>
#include <vector>

#include "graft/core/error.h"
#include "graft/models/family.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

class Embeddings : public Module {
 public:
  Embeddings(const ModelConfig& config, Generator* generator)
      : word_embeddings(config.vocab_size, config.hidden_size),
        position_embeddings(config.max_position_embeddings, config.hidden_size),
        token_type_embeddings(config.type_vocab_size, config.hidden_size),
        layer_norm(config.hidden_size, config.layer_norm_eps),
        dropout(config.hidden_dropout, generator) {
    register_module("word_embeddings", word_embeddings);
    register_module("position_embeddings", position_embeddings);
    register_module("token_type_embeddings", token_type_embeddings);
    register_module("LayerNorm", layer_norm);
    register_module("dropout", dropout);
  }

  // x = dropout(LayerNorm(word[ids] + token_type[types] + position[t]))
  Tensor forward(const Batch& batch, ForwardContext& context) const {
    const Tensor positions = position_ids(batch, position_embeddings.weight.value.dim(0), "bert");
    const Tensor types = batch.token_type_ids.numel() > 0
                             ? batch.token_type_ids
                             : Tensor::zeros(batch.input_ids.shape(), DType::I64, batch.input_ids.device());
    Tensor sum = word_embeddings.forward(batch.input_ids, context);
    ops::add_inplace(sum, token_type_embeddings.forward(types, context));
    ops::add_inplace(sum, position_embeddings.forward(positions, context));
    return dropout.forward(layer_norm.forward(sum, context), context);
  }

  void backward(const Tensor& dy, ForwardContext& context) {
    const Tensor dsum = layer_norm.backward(dropout.backward(dy, context), context);
    word_embeddings.backward(dsum, context);
    token_type_embeddings.backward(dsum, context);
    position_embeddings.backward(dsum, context);
  }

  Embedding word_embeddings;
  Embedding position_embeddings;
  Embedding token_type_embeddings;
  LayerNorm layer_norm;
  Dropout dropout;
};

class SelfAttentionProjections : public Module {
 public:
  SelfAttentionProjections(const ModelConfig& config, Generator* generator)
      : query(config.hidden_size, config.hidden_size),
        key(config.hidden_size, config.hidden_size),
        value(config.hidden_size, config.hidden_size),
        core(config.num_attention_heads, config.attention_dropout, generator) {
    register_module("query", query);
    register_module("key", key);
    register_module("value", value);
  }

  Linear query, key, value;
  SelfAttention core;
};

// BertSelfOutput / BertOutput: y = LayerNorm(dropout(dense(x)) + residual)
class ResidualOutput : public Module {
 public:
  ResidualOutput(int64_t in_features, const ModelConfig& config, Generator* generator)
      : dense(in_features, config.hidden_size),
        layer_norm(config.hidden_size, config.layer_norm_eps),
        dropout(config.hidden_dropout, generator) {
    register_module("dense", dense);
    register_module("LayerNorm", layer_norm);
    register_module("dropout", dropout);
  }

  Tensor forward(const Tensor& x, const Tensor& residual, ForwardContext& context) const {
    return layer_norm.forward(ops::add(dropout.forward(dense.forward(x, context), context), residual), context);
  }

  // Returns dL/d(sum); dL/dx is written to dx.
  Tensor backward(const Tensor& dy, Tensor& dx, ForwardContext& context) {
    Tensor dsum = layer_norm.backward(dy, context);
    dx = dense.backward(dropout.backward(dsum, context), context);
    return dsum;
  }

  Linear dense;
  LayerNorm layer_norm;
  Dropout dropout;
};

class Attention : public Module {
 public:
  Attention(const ModelConfig& config, Generator* generator)
      : self(config, generator), output(config.hidden_size, config, generator) {
    register_module("self", self);
    register_module("output", output);
  }

  Tensor forward(const Tensor& x, const TokenLayout& layout, ForwardContext& context, Tensor* probabilities) const {
    const Tensor attended =
        attend(self.core, self.query, self.key, self.value, x, layout, training(), context, probabilities);
    return output.forward(attended, x, context);
  }

  Tensor backward(const Tensor& dy, ForwardContext& context) {
    Tensor dattended;
    const Tensor dresidual = output.backward(dy, dattended, context);
    return ops::add(attend_backward(self.core, self.query, self.key, self.value, dattended, context), dresidual);
  }

  SelfAttentionProjections self;
  ResidualOutput output;
};

class Intermediate : public Module {
 public:
  explicit Intermediate(const ModelConfig& config)
      : dense(config.hidden_size, config.intermediate_size), activation(activation_named(config.hidden_act)) {
    register_module("dense", dense);
  }

  // `next` reads the output (ops::linear_activation's rounding).
  Tensor forward(const Tensor& x, const Linear& next, ForwardContext& context) const {
    return activated_linear(dense, activation, x, next, context);
  }
  Tensor backward(const Tensor& dy, ForwardContext& context) {
    return dense.backward(activation.backward(dy, context), context);
  }

  Linear dense;
  ActivationLayer activation;
};

class Layer : public Module {
 public:
  Layer(const ModelConfig& config, Generator* generator)
      : attention(config, generator), intermediate(config), output(config.intermediate_size, config, generator) {
    register_module("attention", attention);
    register_module("intermediate", intermediate);
    register_module("output", output);
  }

  // a = LN(dropout(dense(attention(x))) + x); y = LN(dropout(dense(act(dense(a)))) + a)
  Tensor forward(const Tensor& x, const TokenLayout& layout, ForwardContext& context, Tensor* probabilities) const {
    const Tensor a = attention.forward(x, layout, context, probabilities);
    return output.forward(intermediate.forward(a, output.dense, context), a, context);
  }

  Tensor backward(const Tensor& dy, ForwardContext& context) {
    Tensor dintermediate;
    const Tensor dresidual = output.backward(dy, dintermediate, context);
    return attention.backward(ops::add(intermediate.backward(dintermediate, context), dresidual), context);
  }

  Attention attention;
  Intermediate intermediate;
  ResidualOutput output;
};

// pooled = tanh(dense(hidden[:, 0]))
class Pooler : public Module {
 public:
  explicit Pooler(const ModelConfig& config)
      : dense(config.hidden_size, config.hidden_size), activation(Activation::Tanh) {
    register_module("dense", dense);
  }

  Tensor forward(const Tensor& hidden, const Tensor& sequence_offsets, ForwardContext& context) const {
    context.save(this, hidden.shape());
    return activation.forward(dense.forward(first_tokens(hidden, sequence_offsets), context), context);
  }
  Tensor backward(const Tensor& dpooled, ForwardContext& context) {
    const Tensor dfirst = dense.backward(activation.backward(dpooled, context), context);
    return ops::first_token_backward(dfirst, context.take<Shape>(this, "pooler"));
  }

  Linear dense;
  ActivationLayer activation;
};

class BertModel : public Encoder {
 public:
  BertModel(const ModelConfig& config, Generator* generator, bool with_pooler)
      : Encoder(config), embeddings(config, generator) {
    register_module("embeddings", embeddings);
    register_module("encoder", encoder);
    encoder.add("layer", layers);
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      blocks.push_back(std::make_unique<Layer>(config, generator));
      layers.add(std::to_string(i), *blocks.back());
    }
    if (with_pooler) {
      pooler = std::make_unique<Pooler>(config);
      register_module("pooler", *pooler);
    }
  }

  EncoderOutput forward(const Batch& batch, ForwardContext& context, OutputRequest request) const override {
    const TokenLayout layout = token_layout(batch);
    EncoderOutput output;
    output.sequence_offsets = layout.sequence_offsets;
    FrozenBottom frozen(lowest_trainable_block(embeddings, blocks));
    Tensor x = embeddings.forward(batch, context);
    if (request.hidden_states) output.hidden_states.push_back(x);
    for (size_t i = 0; i < blocks.size(); ++i) {
      frozen.at_block(static_cast<int64_t>(i));
      Tensor probabilities;
      x = blocks[i]->forward(x, layout, context, request.attentions ? &probabilities : nullptr);
      if (request.hidden_states) output.hidden_states.push_back(x);
      if (request.attentions) output.attentions.push_back(probabilities);
    }
    frozen.past_blocks();
    output.last_hidden_state = x;
    if (pooler) output.pooled = pooler->forward(x, layout.sequence_offsets, context);
    return output;
  }

  void backward(const Tensor& dlast_hidden_state, const Tensor& dpooled, ForwardContext& context) override {
    Tensor d = dlast_hidden_state.numel() > 0 ? dlast_hidden_state.clone() : Tensor();
    if (pooler && dpooled.numel() > 0) {
      const Tensor from_pooler = pooler->backward(dpooled, context);
      d = d.numel() > 0 ? ops::add(d, from_pooler) : from_pooler;
    }
    if (pooler) context.backward_done(*pooler);  // also when unused: its gradients are final either way
    if (d.numel() == 0) return;
    const int64_t lowest = lowest_trainable_block(embeddings, blocks);
    for (int64_t i = static_cast<int64_t>(blocks.size()) - 1; i >= std::max<int64_t>(lowest, 0); --i) {
      d = blocks[static_cast<size_t>(i)]->backward(d, context);
      context.backward_done(*blocks[static_cast<size_t>(i)]);
    }
    if (lowest < 0) embeddings.backward(d, context);
  }

  Embedding& word_embeddings() override { return embeddings.word_embeddings; }
  bool has_pooler() const override { return pooler != nullptr; }
  std::string prefix() const override { return "bert"; }

 private:
  Embeddings embeddings;
  ModuleList encoder;
  ModuleList layers;
  std::vector<std::unique_ptr<Layer>> blocks;
  std::unique_ptr<Pooler> pooler;
};

void read_config(const JsonFields& fields, ModelConfig& config) {
  config.layer_norm_eps = fields.number("layer_norm_eps", 1e-12);
  config.type_vocab_size = fields.integer("type_vocab_size", 2);
  if (config.type_vocab_size < 1) {
    fields.fail("field \"type_vocab_size\" must be positive, got " + std::to_string(config.type_vocab_size));
  }
  // null means "as hidden_dropout_prob"; BERT's question-answering head has no dropout.
  config.classifier_dropout = fields.number("classifier_dropout", config.hidden_dropout);
  config.qa_dropout = 0.0;
}

void write_config(const ModelConfig& config, nlohmann::json& out) {
  out["layer_norm_eps"] = config.layer_norm_eps;
  out["type_vocab_size"] = config.type_vocab_size;
  const bool explicit_dropout =
      config.raw.contains("classifier_dropout") && config.raw["classifier_dropout"].is_number();
  out["classifier_dropout"] = explicit_dropout || config.classifier_dropout != config.hidden_dropout
                                  ? nlohmann::json(config.classifier_dropout)
                                  : nlohmann::json(nullptr);
}

std::unique_ptr<Encoder> make_encoder(const ModelConfig& config, Generator* generator, bool with_pooler) {
  return std::make_unique<BertModel>(config, generator, with_pooler);
}

// BertForSequenceClassification: dropout -> classifier on the pooler output.
std::unique_ptr<Head> sequence_classification(const ModelConfig& config, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::Pooled);
  add_dropout(head->layers(), config.classifier_dropout, generator);
  head->layers().add("classifier", std::make_unique<Linear>(config.hidden_size, config.num_labels));
  return head;
}

std::unique_ptr<Head> token_classification(const ModelConfig& config, Generator* generator) {
  return token_classifier(config, config.classifier_dropout, generator);
}

std::unique_ptr<Head> question_answering(const ModelConfig& config, Generator* /*no dropout*/) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  head->layers().add("qa_outputs", std::make_unique<Linear>(config.hidden_size, 2));
  return head;
}

// cls.predictions: transform (dense -> activation -> LayerNorm), then the decoder tied to the word
// embeddings, whose bias is cls.predictions.bias.
std::unique_ptr<Head> masked_lm(const ModelConfig& config, Encoder& encoder) {
  auto transform = std::make_unique<Sequential>();
  transform->add("dense", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
  transform->add("activation", std::make_unique<ActivationLayer>(activation_named(config.hidden_act)));
  transform->add("LayerNorm", std::make_unique<LayerNorm>(config.hidden_size, config.layer_norm_eps));
  auto predictions = std::make_unique<Sequential>();
  predictions->add("transform", std::move(transform));
  predictions->add("", std::make_unique<TiedLinear>(encoder.word_embeddings().weight));
  auto cls = std::make_unique<Sequential>();
  cls->add("predictions", std::move(predictions));
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  head->layers().add("cls", std::move(cls));
  return head;
}

}  // namespace

extern const ModelFamily kBert = {
    .model_type = "bert",
    .architecture_prefix = "Bert",
    .blocks_path = "encoder.layer",
    .names = {.hidden_size = "hidden_size",
              .num_hidden_layers = "num_hidden_layers",
              .num_attention_heads = "num_attention_heads",
              .intermediate_size = "intermediate_size",
              .hidden_act = "hidden_act",
              .hidden_dropout = "hidden_dropout_prob",
              .attention_dropout = "attention_probs_dropout_prob",
              .classifier_dropout = "classifier_dropout"},
    .read_config = read_config,
    .write_config = write_config,
    .make_encoder = make_encoder,
    .sequence_classification = sequence_classification,
    .token_classification = token_classification,
    .question_answering = question_answering,
    .masked_lm = masked_lm,
};

}  // namespace graft
