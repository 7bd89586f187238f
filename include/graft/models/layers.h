#pragma once
// The building blocks of models and of user-written heads. Each Layer's forward keeps what its backward
// needs (references to tensors, not copies) in the caller's ForwardContext, so a stack of Layers trains
// without the user writing any backward code, and one stack serves many threads:
//
//   Sequential head;
//   head.add("pre_classifier", std::make_unique<Linear>(768, 768));
//   head.add("relu", std::make_unique<ActivationLayer>(Activation::Relu));
//   ForwardContext context;
//   Tensor logits = head.forward(cls, context);   ...   Tensor dcls = head.backward(dlogits, context);
#include <memory>
#include <string>
#include <vector>

#include "graft/core/kernel_types.h"
#include "graft/core/random.h"
#include "graft/core/tensor.h"
#include "graft/models/forward_context.h"
#include "graft/models/module.h"

namespace graft {

class Layer : public Module {
 public:
  // x: [..., features]; rows are everything before the last dimension.
  virtual Tensor forward(const Tensor& x, ForwardContext& context) const = 0;
  // Returns dL/dx for the forward that kept its activations in `context` and accumulates parameter gradients
  // (trainable ones only).
  virtual Tensor backward(const Tensor& dy, ForwardContext& context) = 0;
};

// y = x W^T + b   [nn.Linear]; weight [out, in]
class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  // x may be BF16: input_for_product's rounding, which several layers reading one input share.
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;
  // x as this layer's product reads it: rounded to bf16 when it multiplies in bf16 (core/autocast.h), which the
  // backward then keeps in place of x (half the bytes, and no second rounding); x itself otherwise.
  Tensor input_for_product(const Tensor& x) const;
  int64_t in_features() const { return weight.value.dim(1); }
  int64_t out_features() const { return weight.value.dim(0); }

  // Replaces the weight by its int8 quantisation per output channel: weight I8 [out, in] and weight_scale F32
  // [out, 1] (compressed-tensors' names), the fp32 weight gone. The input is quantised per row in each forward
  // (ops::linear_int8). For inference: backward refuses, and both tensors stay frozen.
  void quantize_int8();
  bool quantized_int8() const { return weight.value.dtype() == DType::I8; }

  Parameter weight;
  Parameter bias;
  Parameter weight_scale;  // registered by quantize_int8
};

// [nn.LayerNorm] over the last dimension
class LayerNorm : public Layer {
 public:
  LayerNorm(int64_t channels, float eps);
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;

  Parameter weight;
  Parameter bias;

 private:
  float eps_;
};

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation activation) : activation_(activation) {}
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  // In inference, the output takes a donatable x's storage (ops::activation).
  Tensor forward(Tensor&& x, ForwardContext& context) const;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;
  Activation kind() const { return activation_; }

 private:
  Activation activation_;
};

// activation(linear(x)), as `next` reads it: the two layers' forwards while gradients are on; in inference one
// product with the activation in its epilogue (ops::linear_activation), rounded to bf16 there when `next`
// multiplies in bf16, so that no pass over the FFN's activations follows.
Tensor activated_linear(const Linear& linear, const ActivationLayer& activation, const Tensor& x, const Linear& next,
                        ForwardContext& context);

// Inverted dropout: in training, zeroes each value with probability p and scales the rest by 1/(1-p).
class Dropout : public Layer {
 public:
  // The generator is the model's (seeded, checkpointed); none means the process-wide default.
  explicit Dropout(float p, Generator* generator = nullptr);
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;
  // A fresh U8 mask for `shape` (its first dimension the batch's rows) on `device` (1: kept, 0: dropped), drawn as
  // `context` says (ForwardContext::Draws), or an undefined tensor when dropout is off (not `training`, or p = 0).
  // Kept values are multiplied by scale(). A byte, not a float, per value: the masks are kept for the backward pass,
  // and in a training step of distilbert-base they would otherwise hold about 0.3 GB.
  Tensor sample_mask(const Shape& shape, bool training, Device device, const ForwardContext& context) const;
  float p() const { return p_; }
  float scale() const { return 1.0F / (1.0F - p_); }

 private:
  float p_;
  Generator* generator_;
};

// [nn.Embedding]; weight [num_embeddings, dim]
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim);
  // ids: I64 of any shape -> [..., dim]
  Tensor forward(const Tensor& ids, ForwardContext& context) const;
  // Accumulates into weight.grad for the ids of the forward that ran with `context`.
  void backward(const Tensor& dy, ForwardContext& context);

  Parameter weight;
};

// y = x W^T + b with W borrowed from another module: the masked-LM decoder shares the word embeddings
// (tie_word_embeddings), so its gradient adds to theirs.
class TiedLinear : public Layer {
 public:
  explicit TiedLinear(Parameter& shared_weight);
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;

  Parameter bias;

 private:
  Parameter& weight_;
};

class Sequential : public Layer {
 public:
  Layer& add(std::string name, std::unique_ptr<Layer> layer);
  Tensor forward(const Tensor& x, ForwardContext& context) const override;
  Tensor backward(const Tensor& dy, ForwardContext& context) override;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

// The generator Dropout layers use when none is given (seed it with default_generator() = Generator(seed)).
Generator& default_generator();

}  // namespace graft
