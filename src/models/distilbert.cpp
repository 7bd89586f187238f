// DistilBERT (Sanh et al. 2019), as transformers' modeling_distilbert: post-LayerNorm blocks,
// no token types, no pooler. Module and parameter names are Hugging Face's.
#include <cmath>
#include <memory>
#include <vector>

#include "graft/core/error.h"
#include "graft/models/family.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

constexpr double kLayerNormEps = 1e-12;  // fixed in modeling_distilbert

// create_sinusoidal_embeddings: sin on even columns, cos on odd ones.
void fill_sinusoidal(Tensor& table) {
  const int64_t positions = table.dim(0);
  const int64_t dim = table.dim(1);
  float* values = table.data<float>();  // host-only: weights are made on the CPU, then moved
  for (int64_t pos = 0; pos < positions; ++pos) {
    for (int64_t j = 0; j < dim; ++j) {
      const double angle = static_cast<double>(pos) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / dim);
      values[pos * dim + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
}

class Embeddings : public Module {
 public:
  Embeddings(const ModelConfig& config, Generator* generator)
      : word_embeddings(config.vocab_size, config.hidden_size),
        position_embeddings(config.max_position_embeddings, config.hidden_size),
        layer_norm(config.hidden_size, kLayerNormEps),
        dropout(config.hidden_dropout, generator) {
    register_module("word_embeddings", word_embeddings);
    register_module("position_embeddings", position_embeddings);
    register_module("LayerNorm", layer_norm);
    register_module("dropout", dropout);
    if (config.sinusoidal_pos_embds) {
      fill_sinusoidal(position_embeddings.weight.value);
      position_embeddings.weight.trainable = false;
    }
  }

  // x = dropout(LayerNorm(word[ids] + position[t]))
  Tensor forward(const Batch& batch, ForwardContext& context) const {
    const Tensor positions = position_ids(batch, position_embeddings.weight.value.dim(0), "distilbert");
    Tensor sum = word_embeddings.forward(batch.input_ids, context);
    ops::add_inplace(sum, position_embeddings.forward(positions, context));
    return dropout.forward(layer_norm.forward(sum, context), context);
  }

  void backward(const Tensor& dy, ForwardContext& context) {
    const Tensor dsum = layer_norm.backward(dropout.backward(dy, context), context);
    word_embeddings.backward(dsum, context);
    position_embeddings.backward(dsum, context);
  }

  Embedding word_embeddings;
  Embedding position_embeddings;
  LayerNorm layer_norm;
  Dropout dropout;
};

class MultiHeadSelfAttention : public Module {
 public:
  MultiHeadSelfAttention(const ModelConfig& config, Generator* generator)
      : q_lin(config.hidden_size, config.hidden_size),
        k_lin(config.hidden_size, config.hidden_size),
        v_lin(config.hidden_size, config.hidden_size),
        out_lin(config.hidden_size, config.hidden_size),
        core(config.num_attention_heads, config.attention_dropout, generator) {
    register_module("q_lin", q_lin);
    register_module("k_lin", k_lin);
    register_module("v_lin", v_lin);
    register_module("out_lin", out_lin);
  }

  Tensor forward(const Tensor& x, const TokenLayout& layout, ForwardContext& context, Tensor* probabilities) const {
    return out_lin.forward(attend(core, q_lin, k_lin, v_lin, x, layout, training(), context, probabilities), context);
  }
  Tensor backward(const Tensor& dy, ForwardContext& context) {
    return attend_backward(core, q_lin, k_lin, v_lin, out_lin.backward(dy, context), context);
  }

  Linear q_lin, k_lin, v_lin, out_lin;
  SelfAttention core;
};

class FeedForward : public Module {
 public:
  FeedForward(const ModelConfig& config, Generator* generator)
      : lin1(config.hidden_size, config.intermediate_size),
        activation(activation_named(config.hidden_act)),
        lin2(config.intermediate_size, config.hidden_size),
        dropout(config.hidden_dropout, generator) {
    register_module("lin1", lin1);
    register_module("lin2", lin2);
    register_module("dropout", dropout);
  }

  // y = dropout(lin2(act(lin1(x))))
  Tensor forward(const Tensor& x, ForwardContext& context) const {
    const Tensor hidden = activated_linear(lin1, activation, x, lin2, context);
    return dropout.forward(lin2.forward(hidden, context), context);
  }
  Tensor backward(const Tensor& dy, ForwardContext& context) {
    const Tensor dhidden = lin2.backward(dropout.backward(dy, context), context);
    return lin1.backward(activation.backward(dhidden, context), context);
  }

  Linear lin1;
  ActivationLayer activation;
  Linear lin2;
  Dropout dropout;
};

class TransformerBlock : public Module {
 public:
  TransformerBlock(const ModelConfig& config, Generator* generator)
      : attention(config, generator),
        sa_layer_norm(config.hidden_size, kLayerNormEps),
        ffn(config, generator),
        output_layer_norm(config.hidden_size, kLayerNormEps) {
    register_module("attention", attention);
    register_module("sa_layer_norm", sa_layer_norm);
    register_module("ffn", ffn);
    register_module("output_layer_norm", output_layer_norm);
  }

  // sa = LN(attention(x) + x); y = LN(ffn(sa) + sa)
  Tensor forward(const Tensor& x, const TokenLayout& layout, ForwardContext& context, Tensor* probabilities) const {
    const Tensor sa = sa_layer_norm.forward(ops::add(attention.forward(x, layout, context, probabilities), x), context);
    return output_layer_norm.forward(ops::add(ffn.forward(sa, context), sa), context);
  }

  Tensor backward(const Tensor& dy, ForwardContext& context) {
    const Tensor dffn_sum = output_layer_norm.backward(dy, context);
    const Tensor dsa = ops::add(ffn.backward(dffn_sum, context), dffn_sum);
    const Tensor dattention_sum = sa_layer_norm.backward(dsa, context);
    return ops::add(attention.backward(dattention_sum, context), dattention_sum);
  }

  MultiHeadSelfAttention attention;
  LayerNorm sa_layer_norm;
  FeedForward ffn;
  LayerNorm output_layer_norm;
};

class DistilBertModel : public Encoder {
 public:
  DistilBertModel(const ModelConfig& config, Generator* generator) : Encoder(config), embeddings(config, generator) {
    register_module("embeddings", embeddings);
    register_module("transformer", transformer);
    transformer.add("layer", layers);
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      blocks.push_back(std::make_unique<TransformerBlock>(config, generator));
      layers.add(std::to_string(i), *blocks.back());
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
    return output;
  }

  void backward(const Tensor& dlast_hidden_state, const Tensor& /*dpooled: DistilBERT has no pooler*/,
                ForwardContext& context) override {
    const int64_t lowest = lowest_trainable_block(embeddings, blocks);
    Tensor d = dlast_hidden_state;
    for (int64_t i = static_cast<int64_t>(blocks.size()) - 1; i >= std::max<int64_t>(lowest, 0); --i) {
      d = blocks[static_cast<size_t>(i)]->backward(d, context);
      context.backward_done(*blocks[static_cast<size_t>(i)]);
    }
    if (lowest < 0) embeddings.backward(d, context);
  }

  Embedding& word_embeddings() override { return embeddings.word_embeddings; }
  bool has_pooler() const override { return false; }
  std::string prefix() const override { return "distilbert"; }

 private:
  Embeddings embeddings;
  ModuleList transformer;
  ModuleList layers;
  std::vector<std::unique_ptr<TransformerBlock>> blocks;
};

// DistilBertConfig: no layer_norm_eps field (its LayerNorms use 1e-12) and no token types.
void read_config(const JsonFields& fields, ModelConfig& config) {
  config.sinusoidal_pos_embds = fields.boolean("sinusoidal_pos_embds", false);
  config.layer_norm_eps = kLayerNormEps;
  config.type_vocab_size = 0;
  config.classifier_dropout = fields.number("seq_classif_dropout", 0.2);
  config.qa_dropout = fields.number("qa_dropout", 0.1);
}

void write_config(const ModelConfig& config, nlohmann::json& out) {
  out["sinusoidal_pos_embds"] = config.sinusoidal_pos_embds;
  out["seq_classif_dropout"] = config.classifier_dropout;
  out["qa_dropout"] = config.qa_dropout;
}

std::unique_ptr<Encoder> make_encoder(const ModelConfig& config, Generator* generator, bool /*with_pooler*/) {
  return std::make_unique<DistilBertModel>(config, generator);
}

// DistilBertForSequenceClassification: pre_classifier -> ReLU -> dropout -> classifier on [CLS].
std::unique_ptr<Head> sequence_classification(const ModelConfig& config, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::FirstToken);
  Sequential& layers = head->layers();
  layers.add("pre_classifier", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
  layers.add("relu", std::make_unique<ActivationLayer>(Activation::Relu));
  add_dropout(layers, config.classifier_dropout, generator);
  layers.add("classifier", std::make_unique<Linear>(config.hidden_size, config.num_labels));
  return head;
}

// Its dropout is the encoder's (DistilBertForTokenClassification reads config.dropout).
std::unique_ptr<Head> token_classification(const ModelConfig& config, Generator* generator) {
  return token_classifier(config, config.hidden_dropout, generator);
}

std::unique_ptr<Head> question_answering(const ModelConfig& config, Generator* generator) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  add_dropout(head->layers(), config.qa_dropout, generator);
  head->layers().add("qa_outputs", std::make_unique<Linear>(config.hidden_size, 2));
  return head;
}

// vocab_transform -> activation -> vocab_layer_norm, then vocab_projector tied to the word embeddings.
std::unique_ptr<Head> masked_lm(const ModelConfig& config, Encoder& encoder) {
  auto head = std::make_unique<Head>(HeadInput::AllTokens);
  Sequential& layers = head->layers();
  layers.add("vocab_transform", std::make_unique<Linear>(config.hidden_size, config.hidden_size));
  layers.add("activation", std::make_unique<ActivationLayer>(activation_named(config.hidden_act)));
  layers.add("vocab_layer_norm", std::make_unique<LayerNorm>(config.hidden_size, kLayerNormEps));
  layers.add("vocab_projector", std::make_unique<TiedLinear>(encoder.word_embeddings().weight));
  return head;
}

}  // namespace

extern const ModelFamily kDistilBert = {
    .model_type = "distilbert",
    .architecture_prefix = "DistilBert",
    .blocks_path = "transformer.layer",
    .names = {.hidden_size = "dim",
              .num_hidden_layers = "n_layers",
              .num_attention_heads = "n_heads",
              .intermediate_size = "hidden_dim",
              .hidden_act = "activation",
              .hidden_dropout = "dropout",
              .attention_dropout = "attention_dropout",
              .classifier_dropout = "seq_classif_dropout"},
    .read_config = read_config,
    .write_config = write_config,
    .make_encoder = make_encoder,
    .sequence_classification = sequence_classification,
    .token_classification = token_classification,
    .question_answering = question_answering,
    .masked_lm = masked_lm,
};

}  // namespace graft
