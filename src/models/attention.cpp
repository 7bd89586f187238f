#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/models/encoder.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

struct AttentionSaved {
  Tensor q, k, v, probs, keep;  // keep: the dropout mask, empty without dropout
  DType precision;              // as a Linear's (layers.cpp)
};

}  // namespace

SelfAttention::SelfAttention(int64_t heads, float dropout, Generator* generator)
    : heads_(heads), dropout_(dropout, generator) {}

Tensor SelfAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, bool training,
                              ForwardContext& context, Tensor* probabilities) const {
  const Tensor keep = dropout_.sample_mask({q.dim(0), heads_, q.dim(1), q.dim(1)}, training, q.device());
  const DType precision = autocast_dtype();
  ops::AttentionOutput out = ops::attention(q, k, v, key_mask, heads_, keep, dropout_.scale(), precision);
  context.save(this, AttentionSaved{q, k, v, out.probs, keep, precision});
  if (probabilities != nullptr) *probabilities = out.probs;
  return out.attended;
}

std::vector<Tensor> SelfAttention::backward(const Tensor& dcontext, ForwardContext& context) const {
  const auto saved = context.take<AttentionSaved>(this, "attention");
  const auto grads = ops::attention_backward(dcontext, saved.probs, saved.q, saved.k, saved.v, heads_, saved.keep,
                                             dropout_.scale(), saved.precision);
  return {grads.begin(), grads.end()};
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
  ops::add_inplace(dx, k.backward(dqkv[1], context));
  ops::add_inplace(dx, v.backward(dqkv[2], context));
  return dx;
}

Tensor position_ids(int64_t batch, int64_t tokens, Device device) {
  Tensor ids = Tensor::empty({batch, tokens}, DType::I64);
  int64_t* values = ids.data<int64_t>();  // host-only: made here, then copied
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < tokens; ++t) values[b * tokens + t] = t;
  }
  return ids.to(device);
}

Activation activation_named(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "relu") return Activation::Relu;
  throw Error("[model] unsupported activation \"" + name + "\" (graft supports gelu and relu)");
}

}  // namespace graft
