#include <cmath>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
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

namespace {

struct AttentionSaved {
  Tensor q, k, v, probs, keep;  // keep: the dropout mask, empty without dropout
  DType precision;              // as a Linear's (layers.cpp)
};

}  // namespace

Tensor SelfAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, bool training,
                              ForwardContext& context, Tensor* probabilities) const {
  const kernels::AttentionShape shape = shape_of(q);
  check(shape.width() == q.dim(2), "attention",
        "width " + std::to_string(q.dim(2)) + " is not divisible by " + std::to_string(heads_) + " heads");
  Tensor probs = Tensor::empty({shape.batch, shape.heads, shape.tokens, shape.tokens});
  const Tensor keep = dropout_.sample_mask(probs.shape(), training);
  Tensor attended = Tensor::empty(q.shape());
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  const DType precision = autocast_dtype();
  kernels::attention_forward(attended.data<float>(), probs.data<float>(), q.data<float>(), k.data<float>(),
                             v.data<float>(), key_mask.data<int64_t>(), dropout_mask(keep), shape, scale, precision);
  context.save(this, AttentionSaved{q, k, v, probs, keep, precision});
  if (probabilities != nullptr) *probabilities = probs;
  return attended;
}

std::vector<Tensor> SelfAttention::backward(const Tensor& dcontext, ForwardContext& context) const {
  const auto saved = context.take<AttentionSaved>(this, "attention");
  const kernels::AttentionShape shape = shape_of(saved.q);
  Tensor dq = Tensor::empty(saved.q.shape());
  Tensor dk = Tensor::empty(saved.k.shape());
  Tensor dv = Tensor::empty(saved.v.shape());
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  kernels::attention_backward(dq.data<float>(), dk.data<float>(), dv.data<float>(), dcontext.data<float>(),
                              saved.probs.data<float>(), saved.q.data<float>(), saved.k.data<float>(),
                              saved.v.data<float>(), dropout_mask(saved.keep), shape, scale, saved.precision);
  return {dq, dk, dv};
}

Tensor attend(const SelfAttention& core, const Linear& q, const Linear& k, const Linear& v, const Tensor& x,
              const Tensor& mask, bool training, ForwardContext& context, Tensor* probabilities) {
  return core.forward(q.forward(x, context), k.forward(x, context), v.forward(x, context), mask, training, context,
                      probabilities);
}

Tensor attend_backward(const SelfAttention& core, Linear& q, Linear& k, Linear& v, const Tensor& dcontext,
                       ForwardContext& context) {
  const std::vector<Tensor> dqkv = core.backward(dcontext, context);
  Tensor dx = q.backward(dqkv[0], context);
  kernels::add_inplace(dx.data<float>(), k.backward(dqkv[1], context).data<float>(), dx.numel());
  kernels::add_inplace(dx.data<float>(), v.backward(dqkv[2], context).data<float>(), dx.numel());
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
