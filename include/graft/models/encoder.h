#pragma once
// What every encoder family (models/family.h) offers the heads and the trainer.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graft/core/grad_mode.h"
#include "graft/core/random.h"
#include "graft/core/tensor.h"
#include "graft/data/batch.h"
#include "graft/models/config.h"
#include "graft/models/forward_context.h"
#include "graft/models/layers.h"
#include "graft/models/module.h"

namespace graft {

struct EncoderOutput {
  Tensor last_hidden_state;           // [B, T, D]; packed batches (data/batch.h): [N, D]
  Tensor pooled;                      // [B, D]: BERT's tanh pooler on [CLS]; undefined for DistilBERT
  Tensor sequence_offsets;            // packed batches: the batch's, where each sequence's rows begin and end
  std::vector<Tensor> hidden_states;  // embeddings output, then each layer's output (output_hidden_states)
  std::vector<Tensor> attentions;     // per layer, softmax probabilities [B, H, T, T] (output_attentions)
};

// What a forward returns besides the last hidden state, as transformers' flags of the same names: each costs
// a [B, T, D] or [B, H, T, T] tensor per layer, held until the output is dropped.
struct OutputRequest {
  bool hidden_states = false;
  bool attentions = false;
};

class Encoder : public Module {
 public:
  virtual EncoderOutput forward(const Batch& batch, ForwardContext& context, OutputRequest request = {}) const = 0;
  // Back-propagates dL/d(last_hidden_state) and dL/d(pooled) (either may be undefined) of the forward that ran
  // with `context` into the parameters, stopping below the lowest layer that has trainable parameters.
  virtual void backward(const Tensor& dlast_hidden_state, const Tensor& dpooled, ForwardContext& context) = 0;
  virtual Embedding& word_embeddings() = 0;
  virtual bool has_pooler() const = 0;
  // The name transformers gives the encoder inside a model with a head: "distilbert" or "bert".
  virtual std::string prefix() const = 0;
  const ModelConfig& config() const { return config_; }

 protected:
  explicit Encoder(ModelConfig config) : config_(std::move(config)) {}
  ModelConfig config_;
};

// Where attention finds each sequence's tokens: a padded batch's key mask, or a packed batch's offsets.
struct TokenLayout {
  Tensor key_mask;          // I64 [B, T]: padded batches
  Tensor sequence_offsets;  // I64 [B+1]: packed batches
  bool packed() const { return sequence_offsets.numel() > 0; }
};
// The batch's layout. A packed batch is for inference: graft::Error unless gradients are off (NoGradGuard),
// since none of its layers keeps what a backward would need.
TokenLayout token_layout(const Batch& batch);

// Multi-head self-attention without the projections, which each family owns under its own names.
class SelfAttention {
 public:
  SelfAttention(int64_t heads, float dropout, Generator* generator);
  // q, k, v: [B, T, D] (packed: [N, D]). Returns the attended values in q's shape; `probabilities` (when given)
  // receives the softmax probabilities [B, H, T, T]. A packed layout attends within each sequence, in
  // evaluation mode and without probabilities only.
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const TokenLayout& layout, bool training,
                 ForwardContext& context, Tensor* probabilities = nullptr) const;
  // Returns dq, dk, dv for the forward that ran with `context`.
  std::vector<Tensor> backward(const Tensor& dcontext, ForwardContext& context) const;

 private:
  int64_t heads_;
  Dropout dropout_;
};

// attention(q(x), k(x), v(x)) and its backward, which sums dL/dx over the three projections.
Tensor attend(const SelfAttention& core, const Linear& q, const Linear& k, const Linear& v, const Tensor& x,
              const TokenLayout& layout, bool training, ForwardContext& context, Tensor* probabilities);
Tensor attend_backward(const SelfAttention& core, Linear& q, Linear& k, Linear& v, const Tensor& dcontext,
                       ForwardContext& context);

// Where backward may stop: -1 when the embeddings train, the index of the lowest block with trainable
// parameters otherwise, blocks.size() when nothing below the head trains.
template <typename Block>
int64_t lowest_trainable_block(const Module& embeddings, const std::vector<std::unique_ptr<Block>>& blocks) {
  if (embeddings.has_trainable_parameters()) return -1;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i]->has_trainable_parameters()) return static_cast<int64_t>(i);
  }
  return static_cast<int64_t>(blocks.size());
}

// Backward stops at lowest_trainable_block, so the frozen bottom of an encoder (its embeddings and the blocks
// below that one) keeps no activations, as autograd saves nothing below the first module whose weights
// require grad. Made before the embeddings run; at_block(i) before block i, past_blocks() after the last.
class FrozenBottom {
 public:
  explicit FrozenBottom(int64_t lowest_trainable) : lowest_(lowest_trainable) {
    if (lowest_ >= 0) no_grad_.emplace();
  }
  void at_block(int64_t index) {
    if (index == lowest_) no_grad_.reset();
  }
  void past_blocks() { no_grad_.reset(); }

 private:
  int64_t lowest_;
  std::optional<NoGradGuard> no_grad_;
};

// Each token's position in its sequence, 0 first: I64 [B, T] (packed: [N]) on the batch's device. graft::Error
// naming `family` when a sequence is longer than max_positions.
Tensor position_ids(const Batch& batch, int64_t max_positions, const char* family);
// Each sequence's first token ([CLS]) of hidden [B, T, D] (packed: [N, D], with the batch's sequence_offsets):
// [B, D].
Tensor first_tokens(const Tensor& hidden, const Tensor& sequence_offsets);
// config.hidden_act -> the kernel's activation; graft::Error for one it does not implement.
Activation activation_named(const std::string& name);

}  // namespace graft
