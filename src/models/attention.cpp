#include <algorithm>
#include <vector>

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

TokenLayout token_layout(const Batch& batch) {
  if (!batch.packed()) return {attention_mask_or_ones(batch), Tensor()};
  check(!grad_enabled(), "model",
        "a packed batch is for inference: run it under NoGradGuard (training and evaluation with labels take "
        "padded batches)");
  check(batch.input_ids.ndim() == 1, "model",
        "a packed batch has input_ids I64 [N], got " + shape_string(batch.input_ids.shape()));
  check(batch.attention_mask.numel() == 0, "model",
        "a packed batch has no attention_mask (it has no padding), got one of " +
            shape_string(batch.attention_mask.shape()));
  check(batch.token_type_ids.numel() == 0 || batch.token_type_ids.shape() == batch.input_ids.shape(), "model",
        "token_type_ids " + shape_string(batch.token_type_ids.shape()) + " do not match input_ids " +
            shape_string(batch.input_ids.shape()));
  return {Tensor(), batch.sequence_offsets};
}

Tensor SelfAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const TokenLayout& layout,
                              bool training, ForwardContext& context, Tensor* probabilities) const {
  if (layout.packed()) {
    check(!training && probabilities == nullptr, "attention",
          "a packed batch runs in evaluation mode (set_training(false)) and without output_attentions");
    return ops::attention_packed(q, k, v, layout.sequence_offsets, heads_, autocast_dtype());
  }
  const Tensor& key_mask = layout.key_mask;
  const Tensor keep = dropout_.sample_mask({q.dim(0), heads_, q.dim(1), q.dim(1)}, training, q.device(), context);
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
              const TokenLayout& layout, bool training, ForwardContext& context, Tensor* probabilities) {
  const Tensor input = q.input_for_product(x);  // one rounding for the three products
  return core.forward(q.forward(input, context), k.forward(input, context), v.forward(input, context), layout, training,
                      context, probabilities);
}

Tensor attend_backward(const SelfAttention& core, Linear& q, Linear& k, Linear& v, const Tensor& dcontext,
                       ForwardContext& context) {
  const std::vector<Tensor> dqkv = core.backward(dcontext, context);
  Tensor dx = q.backward(dqkv[0], context);
  ops::add_inplace(dx, k.backward(dqkv[1], context));
  ops::add_inplace(dx, v.backward(dqkv[2], context));
  return dx;
}

Tensor position_ids(const Batch& batch, int64_t max_positions, const char* family) {
  const Tensor& input_ids = batch.input_ids;
  const std::vector<int64_t> lengths =
      batch.packed() ? ops::sequence_lengths(batch.sequence_offsets, input_ids.dim(0), family)
                     : std::vector<int64_t>(static_cast<size_t>(input_ids.dim(0)), input_ids.dim(1));
  const int64_t longest = lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end());
  check(longest <= max_positions, family,
        "sequence of " + std::to_string(longest) + " tokens exceeds max_position_embeddings " +
            std::to_string(max_positions));
  std::vector<int64_t> positions;
  positions.reserve(static_cast<size_t>(input_ids.numel()));
  for (const int64_t length : lengths) {
    for (int64_t t = 0; t < length; ++t) positions.push_back(t);
  }
  return Tensor::from_vector(positions, input_ids.shape()).to(input_ids.device());
}

Tensor first_tokens(const Tensor& hidden, const Tensor& sequence_offsets) {
  if (sequence_offsets.numel() == 0) return ops::first_token(hidden);
  const Tensor ends = sequence_offsets.to(kCpu);
  const int64_t* values = ends.data<int64_t>();  // host-only: a copy on the CPU
  const std::vector<int64_t> starts(values, values + ends.numel() - 1);
  return ops::gather_rows(hidden, Tensor::from_vector(starts, {ends.numel() - 1}).to(hidden.device()));
}

Activation activation_named(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "relu") return Activation::Relu;
  throw Error("[model] unsupported activation \"" + name + "\" (graft supports gelu and relu)");
}

}  // namespace graft
