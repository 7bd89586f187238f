#include "graft/models/layers.h"

#include <cstring>

#include "graft/core/autocast.h"
#include "graft/core/error.h"

namespace graft {
namespace {

int64_t rows_of(const Tensor& x) {
  return x.numel() / x.dim(-1);
}

float* grad_or_null(Parameter& parameter) {
  if (!parameter.trainable || parameter.value.numel() == 0) return nullptr;
  parameter.ensure_grad();
  return parameter.grad.data<float>();
}

Shape with_last(const Shape& shape, int64_t last) {
  Shape result = shape;
  result.back() = last;
  return result;
}

// What a product's backward needs: its input, and the precision it multiplied in (core/autocast.h), which its
// backward multiplies in too.
struct ProductSaved {
  Tensor input;
  DType precision;
};

struct LayerNormSaved {
  Tensor input, mean, rstd;
};

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

Tensor Linear::forward(const Tensor& x, ForwardContext& context) const {
  check(x.dim(-1) == in_features(), "linear",
        "input " + shape_string(x.shape()) + " does not end in " + std::to_string(in_features()) + " features");
  const DType precision = autocast_dtype();
  Tensor y = Tensor::empty(with_last(x.shape(), out_features()));
  kernels::linear_forward(y.data<float>(), x.data<float>(), weight.value.data<float>(),
                          bias.value.numel() > 0 ? bias.value.data<float>() : nullptr, rows_of(x), in_features(),
                          out_features(), precision);
  context.save(this, ProductSaved{x, precision});
  return y;
}

Tensor Linear::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<ProductSaved>(this, "linear");
  Tensor dx = Tensor::empty(saved.input.shape());
  kernels::linear_backward(dx.data<float>(), grad_or_null(weight), grad_or_null(bias), dy.data<float>(),
                           saved.input.data<float>(), weight.value.data<float>(), rows_of(saved.input), in_features(),
                           out_features(), saved.precision);
  return dx;
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
  const int64_t channels = weight.value.numel();
  check(x.dim(-1) == channels, "layer_norm",
        "input " + shape_string(x.shape()) + " does not end in " + std::to_string(channels) + " channels");
  Tensor mean = Tensor::empty({rows_of(x)});
  Tensor rstd = Tensor::empty({rows_of(x)});
  Tensor y = Tensor::empty(x.shape());
  kernels::layer_norm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(), x.data<float>(),
                              weight.value.data<float>(), bias.value.data<float>(), rows_of(x), channels, eps_);
  context.save(this, LayerNormSaved{x, mean, rstd});
  return y;
}

Tensor LayerNorm::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<LayerNormSaved>(this, "layer_norm");
  Tensor dx = Tensor::empty(saved.input.shape());
  kernels::layer_norm_backward(dx.data<float>(), grad_or_null(weight), grad_or_null(bias), dy.data<float>(),
                               saved.input.data<float>(), saved.mean.data<float>(), saved.rstd.data<float>(),
                               weight.value.data<float>(), rows_of(saved.input), weight.value.numel());
  return dx;
}

Tensor ActivationLayer::forward(const Tensor& x, ForwardContext& context) const {
  Tensor y = Tensor::empty(x.shape());
  kernels::activation_forward(activation_, y.data<float>(), x.data<float>(), x.numel());
  context.save(this, activation_ == kernels::Activation::Tanh ? y : x);
  return y;
}

Tensor ActivationLayer::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<Tensor>(this, "activation");
  Tensor dx = Tensor::empty(dy.shape());
  kernels::activation_backward(activation_, dx.data<float>(), dy.data<float>(), saved.data<float>(), dy.numel());
  return dx;
}

Dropout::Dropout(float p, Generator* generator) : p_(p), generator_(generator) {
  check(p >= 0.0F && p < 1.0F, "dropout", "probability must be in [0, 1), got " + std::to_string(p));
}

Tensor Dropout::sample_mask(const Shape& shape, bool training) const {
  if (!training || p_ == 0.0F) return {};
  Generator& generator = generator_ != nullptr ? *generator_ : default_generator();
  Tensor mask = Tensor::empty(shape, DType::U8);
  const float p = p_;
  parallel_draw(mask.data<uint8_t>(), mask.numel(), generator,
                [p](Generator& stream) { return static_cast<uint8_t>(stream.uniform() < p ? 0 : 1); });
  return mask;
}

namespace {

Tensor times_mask(const Tensor& x, const Tensor& mask, float scale) {
  Tensor y = Tensor::empty(x.shape());
  kernels::apply_dropout(y.data<float>(), x.data<float>(), {mask.data<uint8_t>(), scale}, x.numel());
  return y;
}

}  // namespace

// Without dropout the mask is empty: the forward is the identity, and so is its backward.
Tensor Dropout::forward(const Tensor& x, ForwardContext& context) const {
  const Tensor mask = sample_mask(x.shape(), training());
  context.save(this, mask);
  return mask.numel() == 0 ? x : times_mask(x, mask, scale());
}

Tensor Dropout::backward(const Tensor& dy, ForwardContext& context) {
  const auto mask = context.take<Tensor>(this, "dropout");
  return mask.numel() == 0 ? dy : times_mask(dy, mask, scale());
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim) {
  weight.value = Tensor::zeros({num_embeddings, dim});
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& ids, ForwardContext& context) const {
  const int64_t count = weight.value.dim(0);
  const int64_t* values = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    check(values[i] >= 0 && values[i] < count, "embedding",
          "index " + std::to_string(values[i]) + " out of range for a table of " + std::to_string(count) + " rows");
  }
  context.save(this, ids);
  Shape shape = ids.shape();
  shape.push_back(weight.value.dim(1));
  Tensor y = Tensor::empty(shape);
  kernels::embedding_forward(y.data<float>(), values, weight.value.data<float>(), ids.numel(), weight.value.dim(1));
  return y;
}

void Embedding::backward(const Tensor& dy, ForwardContext& context) {
  const auto ids = context.take<Tensor>(this, "embedding");
  float* dtable = grad_or_null(weight);
  if (dtable == nullptr) return;
  kernels::embedding_backward(dtable, ids.data<int64_t>(), dy.data<float>(), ids.numel(), weight.value.dim(1));
}

TiedLinear::TiedLinear(Parameter& shared_weight) : weight_(shared_weight) {
  bias.value = Tensor::zeros({shared_weight.value.dim(0)});
  bias.decay = false;
  register_parameter("bias", bias);
}

Tensor TiedLinear::forward(const Tensor& x, ForwardContext& context) const {
  const int64_t in_features = weight_.value.dim(1);
  const int64_t out_features = weight_.value.dim(0);
  check(x.dim(-1) == in_features, "tied_linear",
        "input " + shape_string(x.shape()) + " does not end in " + std::to_string(in_features) + " features");
  const DType precision = autocast_dtype();
  Tensor y = Tensor::empty(with_last(x.shape(), out_features));
  kernels::linear_forward(y.data<float>(), x.data<float>(), weight_.value.data<float>(), bias.value.data<float>(),
                          rows_of(x), in_features, out_features, precision);
  context.save(this, ProductSaved{x, precision});
  return y;
}

Tensor TiedLinear::backward(const Tensor& dy, ForwardContext& context) {
  const auto saved = context.take<ProductSaved>(this, "tied_linear");
  Tensor dx = Tensor::empty(saved.input.shape());
  kernels::linear_backward(dx.data<float>(), grad_or_null(weight_), grad_or_null(bias), dy.data<float>(),
                           saved.input.data<float>(), weight_.value.data<float>(), rows_of(saved.input),
                           weight_.value.dim(1), weight_.value.dim(0), saved.precision);
  return dx;
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

Tensor add(const Tensor& a, const Tensor& b) {
  check(a.shape() == b.shape(), "add",
        "shapes " + shape_string(a.shape()) + " and " + shape_string(b.shape()) + " differ");
  Tensor sum = a.clone();
  kernels::add_inplace(sum.data<float>(), b.data<float>(), sum.numel());
  return sum;
}

Tensor first_token(const Tensor& hidden) {
  const int64_t batch = hidden.dim(0);
  const int64_t tokens = hidden.dim(1);
  const int64_t width = hidden.dim(2);
  Tensor first = Tensor::empty({batch, width});
  for (int64_t b = 0; b < batch; ++b) {
    std::memcpy(first.data<float>() + b * width, hidden.data<float>() + b * tokens * width,
                static_cast<size_t>(width) * sizeof(float));
  }
  return first;
}

Tensor first_token_backward(const Tensor& dfirst, const Shape& hidden_shape) {
  Tensor dhidden = Tensor::zeros(hidden_shape);
  const int64_t tokens = hidden_shape[1];
  const int64_t width = hidden_shape[2];
  for (int64_t b = 0; b < hidden_shape[0]; ++b) {
    std::memcpy(dhidden.data<float>() + b * tokens * width, dfirst.data<float>() + b * width,
                static_cast<size_t>(width) * sizeof(float));
  }
  return dhidden;
}

}  // namespace graft
