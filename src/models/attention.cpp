#include <cmath>
#include <utility>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/models/encoder.h"

namespace graft {

SelfAttention::SelfAttention(int64_t heads, float dropout, Generator* generator)
    : heads_(heads), dropout_(dropout, generator) {}

kernels::DropoutMask SelfAttention::dropout_mask(const Tensor& keep) const {
  if (keep.numel() == 0) return {};
  return {keep.data<uint8_t>(), dropout_.scale()};
}

kernels::AttentionShape SelfAttention::shape_of(const Tensor& q) const {
  return {q.dim(0), q.dim(1), heads_, q.dim(2) / heads_};
}

Tensor SelfAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                              bool training) {
  const kernels::AttentionShape shape = shape_of(q);
  check(shape.width() == q.dim(2), "attention",
        "width " + std::to_string(q.dim(2)) + " is not divisible by " + std::to_string(heads_) + " heads");
  Tensor probs = Tensor::empty({shape.batch, shape.heads, shape.tokens, shape.tokens});
  dropout_.set_training(training);
  const Tensor keep = dropout_.sample_mask(probs.shape());
  Tensor context = Tensor::empty(q.shape());
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  precision_ = autocast_dtype();
  kernels::attention_forward(context.data<float>(), probs.data<float>(), q.data<float>(), k.data<float>(),
                             v.data<float>(), key_mask.data<int64_t>(), dropout_mask(keep), shape, scale, precision_);
  q_ = kept_for_backward(q);
  k_ = kept_for_backward(k);
  v_ = kept_for_backward(v);
  keep_ = kept_for_backward(keep);
  probs_ = keep_probabilities_ ? probs : kept_for_backward(probs);
  return context;
}

std::vector<Tensor> SelfAttention::backward(const Tensor& dcontext) {
  const Tensor q = take_saved(q_, "attention");
  const Tensor k = take_saved(k_, "attention");
  const Tensor v = take_saved(v_, "attention");
  const Tensor probs = take_saved(probs_, "attention");
  const Tensor keep = std::exchange(keep_, Tensor());  // empty without dropout
  const kernels::AttentionShape shape = shape_of(q);
  Tensor dq = Tensor::empty(q.shape());
  Tensor dk = Tensor::empty(k.shape());
  Tensor dv = Tensor::empty(v.shape());
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  kernels::attention_backward(dq.data<float>(), dk.data<float>(), dv.data<float>(), dcontext.data<float>(),
                              probs.data<float>(), q.data<float>(), k.data<float>(), v.data<float>(),
                              dropout_mask(keep), shape, scale, precision_);
  return {dq, dk, dv};
}

Tensor attend(SelfAttention& core, Linear& q, Linear& k, Linear& v, const Tensor& x, const Tensor& mask,
              bool training) {
  return core.forward(q.forward(x), k.forward(x), v.forward(x), mask, training);
}

Tensor attend_backward(SelfAttention& core, Linear& q, Linear& k, Linear& v, const Tensor& dcontext) {
  const std::vector<Tensor> dqkv = core.backward(dcontext);
  Tensor dx = q.backward(dqkv[0]);
  kernels::add_inplace(dx.data<float>(), k.backward(dqkv[1]).data<float>(), dx.numel());
  kernels::add_inplace(dx.data<float>(), v.backward(dqkv[2]).data<float>(), dx.numel());
  return dx;
}

Tensor position_ids(int64_t batch, int64_t tokens) {
  Tensor ids = Tensor::empty({batch, tokens}, DType::I64);
  int64_t* values = ids.data<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < tokens; ++t) values[b * tokens + t] = t;
  }
  return ids;
}

kernels::Activation activation_named(const std::string& name) {
  if (name == "gelu") return kernels::Activation::Gelu;
  if (name == "relu") return kernels::Activation::Relu;
  throw Error("[model] unsupported activation \"" + name + "\" (graft supports gelu and relu)");
}

}  // namespace graft
