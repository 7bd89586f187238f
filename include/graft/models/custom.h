#pragma once
// Your own head on a pretrained encoder, as the Keras transfer-learning guide builds one: take the base
// model, pool its output, put your layers on top, freeze the base, train the head, then unfreeze and
// fine-tune at a low learning rate (examples/custom_head.cpp). The layers are ordinary Layers, so the
// user writes no backward code: EncoderWithHead runs head, pooling and encoder backward in turn.
//
//   auto base = EncoderWithHead::load_base(dir);
//   auto head = std::make_unique<Sequential>();
//   head->add("pre_classifier", std::make_unique<Linear>(dim, dim));
//   ...
//   EncoderWithHead model(std::move(base), std::move(head));   // "distilbert.*", "pre_classifier.*", ...
#include <memory>
#include <string>

#include "graft/models/layers.h"
#include "graft/models/model.h"

namespace graft {

// How the encoder's [B, T, D] output becomes the head's [B, D] input.
enum class Pooling {
  Cls,   // the first token's vector, as DistilBertForSequenceClassification reads it
  Mean,  // the mean over the tokens the attention mask keeps ([CLS] and [SEP] too, padding not): sentence-
         // transformers' mean pooling
};

class EncoderWithHead : public TrainableModel {
 public:
  // The encoder of the checkpoint in `dir` without any head it has (options.task is set to Base).
  static std::unique_ptr<Model> load_base(const std::string& dir, LoadOptions options = {});

  // base: a Model loaded with task Base (load_base); its parameters keep their names
  // ("distilbert.embeddings...").
  // head: the user's layers on the pooled [B, D] vector, producing logits [B, C]; registered under
  // head_name, where "" puts them at the top level as transformers does ("classifier.weight"), so a
  // transformers checkpoint's head loads by name.
  // problem_type: "" infers it as transformers does (1 output: regression; I64 labels: single-label
  // cross-entropy; F32 labels: multi-label BCE).
  EncoderWithHead(std::unique_ptr<Model> base, std::unique_ptr<Sequential> head, std::string head_name = "",
                  Pooling pooling = Pooling::Cls, std::string problem_type = "");

  // Logits [B, C]; with labels, the loss as well.
  ModelOutput forward(const Batch& batch, ForwardContext& context) const override;
  // Back-propagates the loss of the forward that ran with `context` (which needs labels).
  void backward(ForwardContext& context) override;
  // Back-propagates a given gradient of the logits instead.
  void backward(const Tensor& dlogits, ForwardContext& context);
  double loss_denominator(const Batch& batch) const override;

  Model& base() { return *base_; }
  Sequential& head() { return *head_; }
  Pooling pooling() const { return pooling_; }
  // The base model's seeded generator: give it to the head's Dropout layers so runs are reproducible.
  Generator& generator() override { return base_->generator(); }

 private:
  // What backward needs of this model's own forward, besides what its modules keep.
  struct Saved {
    Tensor attention_mask;
    Shape hidden_shape;
    Tensor logits;
    Tensor labels;
  };
  Tensor loss_and_gradient(const Tensor& logits, const Tensor& labels, Tensor* dlogits) const;
  void backward_from(const Tensor& dlogits, const Saved& saved, ForwardContext& context);

  std::unique_ptr<Model> base_;
  std::unique_ptr<Sequential> head_;
  Pooling pooling_;
  std::string problem_type_;
};

}  // namespace graft
