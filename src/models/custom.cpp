#include "graft/models/custom.h"

#include "graft/core/error.h"
#include "graft/ops/ops.h"

namespace graft {
std::unique_ptr<Model> EncoderWithHead::load_base(const std::string& dir, LoadOptions options) {
  options.task = TaskHead::Base;
  return Model::from_pretrained(dir, options);
}

EncoderWithHead::EncoderWithHead(std::unique_ptr<Model> base, std::unique_ptr<Sequential> head, std::string head_name,
                                 Pooling pooling, std::string problem_type)
    : base_(std::move(base)), head_(std::move(head)), pooling_(pooling), problem_type_(std::move(problem_type)) {
  check(base_ != nullptr && head_ != nullptr, "model", "EncoderWithHead needs a base model and a head");
  // A base with its own head would compute logits nobody reads, and its head would train with no gradient.
  check(base_->task() == TaskHead::Base, "model",
        "the base of EncoderWithHead must be loaded with task Base (EncoderWithHead::load_base)");
  // The base's own names already start with the encoder prefix ("distilbert."), so it goes in unprefixed.
  register_module("", *base_);
  register_module(std::move(head_name), *head_);
  head_->to(base_->device());  // the user's layers are made on the CPU
  name_parameters();
}

ModelOutput EncoderWithHead::forward(const Batch& batch, ForwardContext& context) const {
  ModelOutput output = base_->forward(batch, context);
  const Tensor& hidden = output.encoder.last_hidden_state;
  Saved saved{attention_mask_or_ones(batch), hidden.shape(), Tensor(), batch.labels};
  const Tensor pooled =
      pooling_ == Pooling::Cls ? ops::first_token(hidden) : ops::mean_pool(hidden, saved.attention_mask);
  output.logits = head_->forward(pooled, context);
  if (batch.labels.numel() > 0) {
    output.loss = loss_and_gradient(output.logits, batch.labels, nullptr);
  }
  saved.logits = output.logits;
  context.save(this, std::move(saved));
  return output;
}

void EncoderWithHead::backward(ForwardContext& context) {
  const auto saved = context.take<Saved>(this, "model");
  check(saved.labels.numel() > 0, "model", "backward() needs a forward pass with labels");
  Tensor dlogits = Tensor::empty(saved.logits.shape(), DType::F32, saved.logits.device());
  loss_and_gradient(saved.logits, saved.labels, &dlogits);
  backward_from(dlogits, saved, context);
}

void EncoderWithHead::backward(const Tensor& dlogits, ForwardContext& context) {
  backward_from(dlogits, context.take<Saved>(this, "model"), context);
}

// The head's width only tells regression (one output) from the rest, and regression divides by every label as
// multi-label does: 0 stands for "not one".
double EncoderWithHead::loss_denominator(const Batch& batch) const {
  return task_loss_denominator(TaskHead::SequenceClassification, problem_type_, 0, batch.labels);
}

Tensor EncoderWithHead::loss_and_gradient(const Tensor& logits, const Tensor& labels, Tensor* dlogits) const {
  // The head's output width is the number of labels (1: regression).
  return task_loss(TaskHead::SequenceClassification, problem_type_, logits.dim(-1), logits, labels, dlogits);
}

void EncoderWithHead::backward_from(const Tensor& dlogits, const Saved& saved, ForwardContext& context) {
  const Tensor dpooled = head_->backward(dlogits, context);
  context.backward_done(*head_);
  Encoder& encoder = base_->encoder();
  // With the base frozen, the encoder's backward (the bulk of the cost) is skipped entirely.
  if (!encoder.has_trainable_parameters()) return;
  const Tensor dhidden = pooling_ == Pooling::Cls ? ops::first_token_backward(dpooled, saved.hidden_shape)
                                                  : ops::mean_pool_backward(dpooled, saved.attention_mask);
  encoder.backward(dhidden, Tensor(), context);
}

}  // namespace graft
