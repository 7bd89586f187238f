#pragma once
// A task head reads one view of the encoder's output and passes it through a stack of layers named as
// in transformers ("pre_classifier", "classifier", "vocab_transform", "cls.predictions.transform.dense").
#include <memory>

#include "graft/io/config.h"
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
  Tensor forward(const EncoderOutput& encoded);
  // dlogits -> the gradients for the encoder output the head read (the other stays undefined).
  void backward(const Tensor& dlogits, Tensor& dlast_hidden_state, Tensor& dpooled);

 private:
  HeadInput input_;
  Sequential layers_;
  Shape hidden_shape_;
};

// The head transformers builds for `task` on this family (DistilBertForSequenceClassification, ...).
std::unique_ptr<Head> make_head(TaskHead task, const ModelConfig& config, Encoder& encoder, Generator* generator);

}  // namespace graft
