// Finite-difference checks of every backward pass, on tiny shapes: loss = sum(forward(x) * r) for a
// fixed random r, analytic gradient = backward(r), numeric gradient = central differences (h = 1e-2
// in fp32, so agreement is to about 1e-3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "graft/core/parallel.h"
#include "graft/core/random.h"
#include "graft/kernels/kernels.h"
#include "graft/models/encoder.h"
#include "graft/models/layers.h"
#include "test_support.h"

namespace graft {
namespace {

constexpr float kStep = 1e-2F;
constexpr double kAbsoluteTolerance = 2e-3;
constexpr double kRelativeTolerance = 1e-2;

using test::random_tensor;

double weighted_sum(const Tensor& y, const Tensor& r) {
  double total = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data<float>()[i]) * r.data<float>()[i];
  return total;
}

// Compares `analytic` with central differences of loss() with respect to each value of `variable`.
void expect_gradient(Tensor& variable, const Tensor& analytic, const std::function<double()>& loss,
                     const std::string& what) {
  ASSERT_EQ(variable.numel(), analytic.numel()) << what;
  // Each write through a fresh access, which moves the tensor's version: a pointer kept from before a product
  // writes behind the back of the forms made from the tensor (core/tensor.h), such as a packed weight.
  const auto set = [&variable](int64_t i, float value) { variable.data<float>()[i] = value; };
  for (int64_t i = 0; i < variable.numel(); ++i) {
    const float saved = std::as_const(variable).data<float>()[i];
    set(i, saved + kStep);
    const double up = loss();
    set(i, saved - kStep);
    const double down = loss();
    set(i, saved);
    const double numeric = (up - down) / (2.0 * kStep);
    const double exact = analytic.data<float>()[i];
    EXPECT_NEAR(exact, numeric, kAbsoluteTolerance + kRelativeTolerance * std::fabs(numeric))
        << what << "[" << i << "]";
  }
}

// Checks dL/dx and dL/d(parameters) of a Layer.
void check_layer(Layer& layer, Tensor x, const std::string& what) {
  ForwardContext context;
  const Tensor y0 = layer.forward(x, context);
  const Tensor r = random_tensor(y0.shape(), 99);
  for (Parameter* parameter : layer.parameters()) parameter->zero_grad();
  const Tensor dx = layer.backward(r, context);
  const auto loss = [&] {
    const NoGradGuard no_grad;
    return weighted_sum(layer.forward(x, context), r);
  };
  expect_gradient(x, dx, loss, what + " input");
  for (const auto& [name, parameter] : layer.named_parameters()) {
    const Tensor analytic = parameter->grad.clone();
    expect_gradient(parameter->value, analytic, loss, what + " " + name);
  }
}

TEST(GradCheck, Linear) {
  Linear linear(5, 3);
  Generator generator(1);
  init_normal(linear.weight.value, 0.5F, generator);
  init_normal(linear.bias.value, 0.5F, generator);
  check_layer(linear, random_tensor({2, 4, 5}, 2), "linear");
}

TEST(GradCheck, LayerNorm) {
  LayerNorm norm(6, 1e-5F);
  Generator generator(3);
  init_normal(norm.weight.value, 1.0F, generator);
  init_normal(norm.bias.value, 1.0F, generator);
  check_layer(norm, random_tensor({3, 6}, 4), "layer_norm");
}

TEST(GradCheck, Activations) {
  for (auto activation : {Activation::Gelu, Activation::Relu, Activation::Tanh}) {
    ActivationLayer layer(activation);
    // Keep ReLU's inputs away from its kink at 0, where the derivative is undefined.
    Tensor x = random_tensor({4, 5}, 5);
    for (int64_t i = 0; i < x.numel(); ++i) {
      float& v = x.data<float>()[i];
      if (std::fabs(v) < 0.05F) v = 0.3F;
    }
    check_layer(layer, x, "activation " + std::to_string(static_cast<int>(activation)));
  }
}

TEST(GradCheck, DropoutUsesTheSameMaskForward) {
  Generator generator(7);
  Dropout dropout(0.5F, &generator);
  dropout.set_training(true);
  const Tensor x = random_tensor({64}, 8);
  ForwardContext context;
  const Tensor y = dropout.forward(x, context);
  const Tensor dx = dropout.backward(Tensor::full({64}, 1.0F), context);
  int zeros = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const float keep = dx.data<float>()[i];
    EXPECT_TRUE(keep == 0.0F || keep == 2.0F);
    EXPECT_FLOAT_EQ(y.data<float>()[i], x.data<float>()[i] * keep);
    zeros += keep == 0.0F;
  }
  EXPECT_GT(zeros, 16);
  EXPECT_LT(zeros, 48);
  dropout.set_training(false);
  EXPECT_EQ(dropout.forward(x, context).to_float_vector(), x.to_float_vector());
}

// The mask is drawn on every thread in fixed chunks, so a run's dropout does not depend on its thread count;
// about p of a large tensor is dropped.
TEST(GradCheck, DropoutMaskIsTheSameOnAnyThreadCount) {
  const int threads = num_threads();
  const Tensor x = Tensor::full({3, 70'000}, 1.0F);
  const auto mask_with = [&](int count) {
    set_num_threads(count);
    Generator generator(21);
    Dropout dropout(0.1F, &generator);
    dropout.set_training(true);
    ForwardContext context;
    return dropout.forward(x, context).to_float_vector();
  };
  const std::vector<float> single = mask_with(1);
  const std::vector<float> multi = mask_with(std::max(2, threads));
  set_num_threads(threads);
  EXPECT_EQ(single, multi);
  const auto dropped = std::count(single.begin(), single.end(), 0.0F);
  EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(single.size()), 0.1, 0.005);
}

TEST(GradCheck, Embedding) {
  Embedding embedding(7, 3);
  Generator generator(9);
  init_normal(embedding.weight.value, 1.0F, generator);
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 4, 1, 6}, {2, 2});
  const Tensor r = random_tensor({2, 2, 3}, 10);
  ForwardContext context;
  embedding.forward(ids, context);
  embedding.weight.zero_grad();
  embedding.backward(r, context);
  const Tensor analytic = embedding.weight.grad.clone();
  const NoGradGuard no_grad;
  expect_gradient(
      embedding.weight.value, analytic, [&] { return weighted_sum(embedding.forward(ids, context), r); }, "embedding");
}

TEST(GradCheck, MaskedSelfAttention) {
  SelfAttention attention(2, 0.0F, nullptr);
  Tensor q = random_tensor({2, 3, 4}, 11);
  Tensor k = random_tensor({2, 3, 4}, 12);
  Tensor v = random_tensor({2, 3, 4}, 13);
  const Tensor mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 0, 1, 1, 1}, {2, 3});
  const Tensor r = random_tensor({2, 3, 4}, 14);
  ForwardContext context;
  attention.forward(q, k, v, {mask, {}}, false, context);
  const auto grads = attention.backward(r, context);
  const NoGradGuard no_grad;
  const auto loss = [&] { return weighted_sum(attention.forward(q, k, v, {mask, {}}, false, context), r); };
  expect_gradient(q, grads[0], loss, "attention q");
  expect_gradient(k, grads[1], loss, "attention k");
  expect_gradient(v, grads[2], loss, "attention v");
  EXPECT_TRUE(context.empty());
  // The padded key of the first sequence gets no attention at all.
  Tensor probs;
  attention.forward(q, k, v, {mask, {}}, false, context, &probs);
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(probs.data<float>()[(h * 3 + i) * 3 + 2], 0.0F);
  }
}

TEST(GradCheck, Losses) {
  Tensor logits = random_tensor({4, 3}, 15);
  const std::vector<int64_t> labels = {2, -100, 0, 1};
  Tensor dlogits = Tensor::empty({4, 3});
  kernels::cross_entropy(logits.data<float>(), labels.data(), dlogits.data<float>(), 4, 3);
  expect_gradient(
      logits, dlogits, [&] { return kernels::cross_entropy(logits.data<float>(), labels.data(), nullptr, 4, 3); },
      "cross_entropy");
  const std::vector<float> weights = {0.5F, 2.0F, 1.0F};
  kernels::cross_entropy(logits.data<float>(), labels.data(), dlogits.data<float>(), 4, 3, -100, weights.data());
  expect_gradient(
      logits, dlogits,
      [&] { return kernels::cross_entropy(logits.data<float>(), labels.data(), nullptr, 4, 3, -100, weights.data()); },
      "weighted cross_entropy");

  Tensor targets = Tensor::from_vector(std::vector<float>{1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0}, {12});
  Tensor flat = logits.reshape({12});
  Tensor dflat = Tensor::empty({12});
  kernels::binary_cross_entropy_with_logits(flat.data<float>(), targets.data<float>(), dflat.data<float>(), 12);
  expect_gradient(
      flat, dflat,
      [&] { return kernels::binary_cross_entropy_with_logits(flat.data<float>(), targets.data<float>(), nullptr, 12); },
      "bce");
  kernels::mean_squared_error(flat.data<float>(), targets.data<float>(), dflat.data<float>(), 12);
  expect_gradient(
      flat, dflat, [&] { return kernels::mean_squared_error(flat.data<float>(), targets.data<float>(), nullptr, 12); },
      "mse");
}

TEST(Losses, MatchClosedForms) {
  // CE of logits (0, ln 3) for label 1: -log(3/4); ignored rows do not count.
  const std::vector<float> logits = {0.0F, std::log(3.0F), 5.0F, 1.0F};
  const std::vector<int64_t> labels = {1, -100};
  EXPECT_NEAR(kernels::cross_entropy(logits.data(), labels.data(), nullptr, 2, 2), -std::log(0.75), 1e-6);
  const std::vector<float> x = {0.0F};
  const std::vector<float> y = {1.0F};
  EXPECT_NEAR(kernels::binary_cross_entropy_with_logits(x.data(), y.data(), nullptr, 1), std::log(2.0), 1e-6);
  const std::vector<float> p = {3.0F, 1.0F};
  const std::vector<float> t = {1.0F, 1.0F};
  EXPECT_NEAR(kernels::mean_squared_error(p.data(), t.data(), nullptr, 2), 2.0, 1e-6);
}

}  // namespace
}  // namespace graft
