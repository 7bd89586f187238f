#pragma once
// The building blocks of models and of user-written heads. Each Layer keeps what its backward needs
// from the last forward (references to tensors, not copies), so a stack of Layers trains without the
// user writing any backward code:
//
//   Sequential head;
//   head.add("pre_classifier", std::make_unique<Linear>(768, 768));
//   head.add("relu", std::make_unique<ActivationLayer>(kernels::Activation::Relu));
//   Tensor logits = head.forward(cls);      ...      Tensor dcls = head.backward(dlogits);
#include <memory>
#include <string>
#include <vector>

#include "graft/core/random.h"
#include "graft/core/tensor.h"
#include "graft/kernels/kernels.h"
#include "graft/models/module.h"

namespace graft {

class Layer : public Module {
 public:
  // x: [..., features]; rows are everything before the last dimension.
  virtual Tensor forward(const Tensor& x) = 0;
  // Returns dL/dx for the last forward and accumulates parameter gradients (trainable ones only).
  virtual Tensor backward(const Tensor& dy) = 0;
};

// y = x W^T + b   [nn.Linear]; weight [out, in]
class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;
  int64_t in_features() const { return weight.value.dim(1); }
  int64_t out_features() const { return weight.value.dim(0); }

  Parameter weight;
  Parameter bias;

 private:
  Tensor input_;
  DType precision_ = DType::F32;  // of the last forward's product (core/autocast.h); its backward's too
};

// [nn.LayerNorm] over the last dimension
class LayerNorm : public Layer {
 public:
  LayerNorm(int64_t channels, float eps);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;

  Parameter weight;
  Parameter bias;

 private:
  float eps_;
  Tensor input_, mean_, rstd_;
};

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(kernels::Activation activation) : activation_(activation) {}
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;

 private:
  kernels::Activation activation_;
  Tensor saved_;
};

// Inverted dropout: in training, zeroes each value with probability p and scales the rest by 1/(1-p).
class Dropout : public Layer {
 public:
  // The generator is the model's (seeded, checkpointed); none means the process-wide default.
  explicit Dropout(float p, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;
  // A fresh U8 mask for `shape` (1: kept, 0: dropped), or an undefined tensor when dropout is off. Kept
  // values are multiplied by scale(). A byte, not a float, per value: the masks are kept for the backward pass,
  // and in a training step of distilbert-base they would otherwise hold about 0.3 GB.
  Tensor sample_mask(const Shape& shape);
  float p() const { return p_; }
  float scale() const { return 1.0F / (1.0F - p_); }

 private:
  float p_;
  Generator* generator_;
  Tensor mask_;
};

// [nn.Embedding]; weight [num_embeddings, dim]
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim);
  // ids: I64 of any shape -> [..., dim]
  Tensor forward(const Tensor& ids);
  void backward(const Tensor& dy);  // accumulates into weight.grad for the ids of the last forward

  Parameter weight;

 private:
  Tensor ids_;
};

// y = x W^T + b with W borrowed from another module: the masked-LM decoder shares the word embeddings
// (tie_word_embeddings), so its gradient adds to theirs.
class TiedLinear : public Layer {
 public:
  explicit TiedLinear(Parameter& shared_weight);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;

  Parameter bias;

 private:
  Parameter& weight_;
  Tensor input_;
  DType precision_ = DType::F32;  // as Linear's
};

class Sequential : public Layer {
 public:
  Layer& add(std::string name, std::unique_ptr<Layer> layer);
  Tensor forward(const Tensor& x) override;
  Tensor backward(const Tensor& dy) override;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

// The generator Dropout layers use when none is given (seed it with default_generator() = Generator(seed)).
Generator& default_generator();

// What a layer stores for its backward: `value` while gradients are on, nothing under a NoGradGuard
// (graft/core/grad_mode.h).
Tensor kept_for_backward(const Tensor& value);
// Hands a stored tensor to its backward and empties the slot, so a backward frees what its forward kept (as
// autograd does without retain_graph): activations are not held from one step into the next. graft::Error
// naming `layer` when the slot is empty: the forward ran under a NoGradGuard, or its backward already ran.
Tensor take_saved(Tensor& slot, const char* layer);

// Small tensor helpers the layers and models share.
Tensor add(const Tensor& a, const Tensor& b);
// Rows [B, T, D] -> the first token of each sequence [B, D], and its backward.
Tensor first_token(const Tensor& hidden);
Tensor first_token_backward(const Tensor& dfirst, const Shape& hidden_shape);

}  // namespace graft
