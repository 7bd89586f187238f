#include "graft/models/layers.h"

#include <utility>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

// The gradient a backward accumulates into: none for a frozen (or empty) parameter.
Tensor* grad_or_null(Parameter& parameter) {
  if (!parameter.trainable || parameter.value.numel() == 0) return nullptr;
  parameter.ensure_grad();
  return &parameter.grad;
}

// What a product's backward needs: its input (rounded to BF16 for a BF16 product), and the precision it
// multiplied in (core/autocast.h), which its backward multiplies in too.
struct ProductSaved {
  Tensor input;
  DType precision;
};

struct LayerNormSaved {
  Tensor input, mean, rstd;
};

void check_features(const Tensor& x, int64_t features, const char* layer) {
  check(x.ndim() > 0 && x.dim(-1) == features, layer,
        "input " + shape_string(x.shape()) + " does not end in " + std::to_string(features) + " features");
}

Tensor rounded_for(DType precision, const Tensor& x) {
  return precision == DType::BF16 && x.dtype() == DType::F32 ? ops::round_to_bf16(x) : x;
}

}  // namespace

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias) {
  weight.value = Tensor::zeros({out_features, in_features});
  register_parameter("weight", weight);
  if (has_bias) {
    bias.value = Tensor::zeros({out_features});
    bias.decay = false;
    register_parameter("bias", bias);
  }
}

void Linear::quantize_int8() {
  if (quantized_int8()) return;
  ops::QuantizedRows quantized = ops::quantize_rows_int8(weight.value);
  weight.value = std::move(quantized.values);
  weight.grad = Tensor();
  weight.trainable = false;
  weight_scale.value = std::move(quantized.scales);
  weight_scale.trainable = false;
  weight_scale.decay = false;
  register_parameter("weight_scale", weight_scale);
}

Tensor Linear::input_for_product(const Tensor& x) const {
  return quantized_int8() ? x : rounded_for(autocast_dtype(), x);
}

Tensor Linear::forward(const Tensor& x, ForwardContext& context) const {
  check_features(x, in_features(), "linear");
  if (quantized_int8()) return ops::linear_int8(x, weight.value, weight_scale.value, bias.value);
  const DType precision = autocast_dtype();
  const Tensor input = rounded_for(precision, x);
  context.save(this, ProductSaved{input, precision});
  return ops::linear(input, weight.value, bias.value, precision);
}

Tensor Linear::backward(const Tensor& dy, ForwardContext& context) {
  check(!quantized_int8(), "linear",
        "an int8 model is for inference: train the fp32 model, then quantise it (graft quantize, or --int8 when "
        "loading)");
  const auto saved = context.take<ProductSaved>(this, "linear");
  return ops::linear_backward(dy, saved.input, weight.value, grad_or_null(weight), grad_or_null(bias), saved.precision);
}

Tensor activated_linear(const Linear& linear, const ActivationLayer& activation, const Tensor& x, const Linear& next,
                        ForwardContext& context) {
  if (grad_enabled() || linear.quantized_int8() || next.quantized_int8()) {
    return activation.forward(linear.forward(x, context), context);
  }
  check_features(x, linear.in_features(), "linear");
  const DType precision = autocast_dtype();
  return ops::linear_activation(x, linear.weight.value, linear.bias.value, precision, activation.kind(), precision);
}

LayerNorm::LayerNorm(int64_t channels, float eps) : eps_(eps) {
  weight.value = Tensor::full({channels}, 1.0F);
  bias.value = Tensor::zeros({channels});
  weight.decay = false;
  bias.decay = false;
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor LayerNorm::forward(const Tensor& x, ForwardContext& context) const {
  check_features(x, weight.value.numel(), "layer_norm");
  ops::LayerNormOutput out = ops::layer_norm(x, weight.value, bias.value, eps_);
  context.save(this, LayerNormSaved{x, out.mean, out.rstd});
  return out.y;
}

Tensor LayerNorm::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<LayerNormSaved>(this, "layer_norm");
  return ops::layer_norm_backward(dy, saved.input, saved.mean, saved.rstd, weight.value, grad_or_null(weight),
                                  grad_or_null(bias));
}

Tensor ActivationLayer::forward(const Tensor& x, ForwardContext& context) const {
  return forward(Tensor(x), context);
}

Tensor ActivationLayer::forward(Tensor&& x, ForwardContext& context) const {
  if (activation_ == Activation::Tanh) {  // its backward reads the output
    Tensor y = ops::activation(activation_, std::move(x));
    context.save(this, y);
    return y;
  }
  context.save(this, x);  // before the op: kept (in training), x is not donated, and the backward reads it as it was
  return ops::activation(activation_, std::move(x));
}

Tensor ActivationLayer::backward(const Tensor& dy, ForwardContext& context) {
  return ops::activation_backward(activation_, dy, context.take<Tensor>(this, "activation"));
}

Dropout::Dropout(float p, Generator* generator) : p_(p), generator_(generator) {
  check(p >= 0.0F && p < 1.0F, "dropout", "probability must be in [0, 1), got " + std::to_string(p));
}

Tensor Dropout::sample_mask(const Shape& shape, bool training, Device device, const ForwardContext& context) const {
  if (!training || p_ == 0.0F) return {};
  const ForwardContext::Draws& draws = context.draws();
  Generator& generator = draws.generator != nullptr ? *draws.generator
                         : generator_ != nullptr    ? *generator_
                                                    : default_generator();
  const int64_t values_per_row = shape.empty() || shape[0] == 0 ? 0 : shape_numel(shape) / shape[0];
  return ops::dropout_keep(shape, p_, generator, device, draws.first_row * values_per_row);
}

// Without dropout the mask is empty: the forward is the identity, and so is its backward.
Tensor Dropout::forward(const Tensor& x, ForwardContext& context) const {
  const Tensor mask = sample_mask(x.shape(), training(), x.device(), context);
  context.save(this, mask);
  return mask.numel() == 0 ? x : ops::apply_dropout(x, mask, scale());
}

Tensor Dropout::backward(const Tensor& dy, ForwardContext& context) {
  const auto mask = context.take<Tensor>(this, "dropout");
  return mask.numel() == 0 ? dy : ops::apply_dropout(dy, mask, scale());
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim) {
  weight.value = Tensor::zeros({num_embeddings, dim});
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& ids, ForwardContext& context) const {
  Tensor y = ops::embedding(ids, weight.value, "embedding");
  context.save(this, ids);
  return y;
}

void Embedding::backward(const Tensor& dy, ForwardContext& context) {
  const auto ids = context.take<Tensor>(this, "embedding");
  Tensor* dtable = grad_or_null(weight);
  if (dtable != nullptr) ops::embedding_backward(dy, ids, *dtable);
}

TiedLinear::TiedLinear(Parameter& shared_weight) : weight_(shared_weight) {
  bias.value = Tensor::zeros({shared_weight.value.dim(0)});
  bias.decay = false;
  register_parameter("bias", bias);
}

Tensor TiedLinear::forward(const Tensor& x, ForwardContext& context) const {
  check_features(x, weight_.value.dim(1), "tied_linear");
  const DType precision = autocast_dtype();
  const Tensor input = rounded_for(precision, x);
  context.save(this, ProductSaved{input, precision});
  return ops::linear(input, weight_.value, bias.value, precision);
}

Tensor TiedLinear::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<ProductSaved>(this, "tied_linear");
  return ops::linear_backward(dy, saved.input, weight_.value, grad_or_null(weight_), grad_or_null(bias),
                              saved.precision);
}

Layer& Sequential::add(std::string name, std::unique_ptr<Layer> layer) {
  register_module(std::move(name), *layer);
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

Tensor Sequential::forward(const Tensor& x, ForwardContext& context) const {
  Tensor y = x;
  for (const auto& layer : layers_) y = layer->forward(y, context);
  return y;
}

Tensor Sequential::backward(const Tensor& dy, ForwardContext& context) {
  Tensor d = dy;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) d = (*it)->backward(d, context);
  return d;
}

}  // namespace graft
