#pragma once
// A task head reads one view of the encoder's output and passes it through a stack of layers named as
// in transformers ("pre_classifier", "classifier", "vocab_transform", "cls.predictions.transform.dense").
#include <memory>

#include "graft/models/config.h"
#include "graft/models/encoder.h"
#include "graft/models/layers.h"

namespace graft {

// Which part of the encoder output a head reads.
enum class HeadInput {
  FirstToken,  // hidden[:, 0]: the [CLS] vector
  Pooled,      // BERT's pooler output
  AllTokens,   // every position: [B, T, D]
};

class Head : public Module {
 public:
  explicit Head(HeadInput input);
  // The layers; registered at the model's top level, so their names are the transformers names.
  Sequential& layers() { return layers_; }
  HeadInput input() const { return input_; }
  // The view of the encoder output this head reads: its features, [B, D] or [B, T, D].
  Tensor read(const EncoderOutput& encoded) const;
  Tensor forward(const Tensor& features, ForwardContext& context) const { return layers_.forward(features, context); }
  // dlogits -> dL/d(features) for the forward that ran with `context`.
  Tensor backward(const Tensor& dlogits, ForwardContext& context) { return layers_.backward(dlogits, context); }

 private:
  HeadInput input_;
  Sequential layers_;
};

// The head transformers builds for `task` on config's family (DistilBertForSequenceClassification, ...).
std::unique_ptr<Head> make_head(TaskHead task, const ModelConfig& config, Encoder& encoder, Generator* generator);

// Appends a Dropout named "dropout", as the families' heads name theirs.
void add_dropout(Sequential& layers, float p, Generator* generator);
// dropout(p) -> "classifier" on every position: the token classifier of both families, which differ only in
// the dropout they read.
std::unique_ptr<Head> token_classifier(const ModelConfig& config, float p, Generator* generator);

}  // namespace graft
