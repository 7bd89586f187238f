#include "graft/models/custom.h"

#include <algorithm>

#include "graft/core/error.h"

namespace graft {
namespace {

void check_mask(const Tensor& hidden, const Tensor& attention_mask) {
  check(hidden.ndim() == 3 && attention_mask.ndim() == 2 && attention_mask.dtype() == DType::I64 &&
            attention_mask.dim(0) == hidden.dim(0) && attention_mask.dim(1) == hidden.dim(1),
        "mean_pool",
        "hidden " + shape_string(hidden.shape()) + " and attention mask " + shape_string(attention_mask.shape()) +
            " do not fit ([B, T, D] and I64 [B, T])");
}

// 1 / (tokens the mask keeps in row b), or 0 for a row with none, so that it pools to zeros.
float inverse_count(const int64_t* mask_row, int64_t tokens) {
  const int64_t kept = std::count_if(mask_row, mask_row + tokens, [](int64_t m) { return m != 0; });
  return kept > 0 ? 1.0F / static_cast<float>(kept) : 0.0F;
}

}  // namespace

Tensor mean_pool(const Tensor& hidden, const Tensor& attention_mask) {
  check_mask(hidden, attention_mask);
  const int64_t batch = hidden.dim(0);
  const int64_t tokens = hidden.dim(1);
  const int64_t width = hidden.dim(2);
  Tensor pooled = Tensor::zeros({batch, width});
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* mask = attention_mask.data<int64_t>() + b * tokens;
    const float scale = inverse_count(mask, tokens);
    float* out = pooled.data<float>() + b * width;
    for (int64_t t = 0; t < tokens; ++t) {
      if (mask[t] == 0) continue;
      const float* row = hidden.data<float>() + (b * tokens + t) * width;
      for (int64_t d = 0; d < width; ++d) out[d] += row[d];
    }
    for (int64_t d = 0; d < width; ++d) out[d] *= scale;
  }
  return pooled;
}

Tensor mean_pool_backward(const Tensor& dpooled, const Tensor& attention_mask) {
  const int64_t batch = attention_mask.dim(0);
  const int64_t tokens = attention_mask.dim(1);
  const int64_t width = dpooled.dim(1);
  Tensor dhidden = Tensor::zeros({batch, tokens, width});
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* mask = attention_mask.data<int64_t>() + b * tokens;
    const float scale = inverse_count(mask, tokens);
    const float* grad = dpooled.data<float>() + b * width;
    for (int64_t t = 0; t < tokens; ++t) {
      if (mask[t] == 0) continue;
      float* row = dhidden.data<float>() + (b * tokens + t) * width;
      for (int64_t d = 0; d < width; ++d) row[d] = grad[d] * scale;
    }
  }
  return dhidden;
}

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
  name_parameters();
}

ModelOutput EncoderWithHead::forward(const Batch& batch, ForwardContext& context) const {
  ModelOutput output = base_->forward(batch, context);
  const Tensor& hidden = output.encoder.last_hidden_state;
  Saved saved{attention_mask_or_ones(batch), hidden.shape(), Tensor(), batch.labels};
  const Tensor pooled = pooling_ == Pooling::Cls ? first_token(hidden) : mean_pool(hidden, saved.attention_mask);
  output.logits = head_->forward(pooled, context);
  if (batch.labels.numel() > 0) {
    output.loss = Tensor::full({1}, loss_and_gradient(output.logits, batch.labels, nullptr));
  }
  saved.logits = output.logits;
  context.save(this, std::move(saved));
  return output;
}

void EncoderWithHead::backward(ForwardContext& context) {
  const auto saved = context.take<Saved>(this, "model");
  check(saved.labels.numel() > 0, "model", "backward() needs a forward pass with labels");
  Tensor dlogits = Tensor::empty(saved.logits.shape());
  loss_and_gradient(saved.logits, saved.labels, &dlogits);
  backward_from(dlogits, saved, context);
}

void EncoderWithHead::backward(const Tensor& dlogits, ForwardContext& context) {
  backward_from(dlogits, context.take<Saved>(this, "model"), context);
}

float EncoderWithHead::loss_and_gradient(const Tensor& logits, const Tensor& labels, Tensor* dlogits) const {
  // The head's output width is the number of labels (1: regression).
  return task_loss(TaskHead::SequenceClassification, problem_type_, logits.dim(-1), logits, labels, dlogits);
}

void EncoderWithHead::backward_from(const Tensor& dlogits, const Saved& saved, ForwardContext& context) {
  const Tensor dpooled = head_->backward(dlogits, context);
  Encoder& encoder = base_->encoder();
  // With the base frozen, the encoder's backward (the bulk of the cost) is skipped entirely.
  if (!encoder.has_trainable_parameters()) return;
  const Tensor dhidden = pooling_ == Pooling::Cls ? first_token_backward(dpooled, saved.hidden_shape)
                                                  : mean_pool_backward(dpooled, saved.attention_mask);
  encoder.backward(dhidden, Tensor(), context);
}

}  // namespace graft
