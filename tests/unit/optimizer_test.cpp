// AdamW and SGD against torch's formulas written out in double precision, plus clipping and state
// round trips.
#include "graft/train/optimizer.h"

#include <cmath>
#include <memory>
#include <vector>

#include "graft/core/error.h"
#include "graft/train/clipping.h"
#include "test_support.h"

namespace graft {
namespace {

Parameter make_param(const std::string& name, const std::vector<float>& values) {
  Parameter param;
  param.name = name;
  param.value = Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
  param.ensure_grad();
  return param;
}

void set_grad(Parameter& param, const std::vector<float>& grad) {
  param.grad = Tensor::from_vector(grad, {static_cast<int64_t>(grad.size())});
}

// A different, deterministic gradient for every (parameter, step, element).
std::vector<float> synthetic_grad(size_t size, int step, int seed) {
  std::vector<float> grad(size);
  for (size_t i = 0; i < size; ++i) grad[i] = std::sin(0.37f * static_cast<float>(i + 1) + 1.3f * step + seed);
  return grad;
}

// torch.optim.AdamW for one parameter, in double.
struct ReferenceAdamW {
  std::vector<double> param, exp_avg, exp_avg_sq;
  int step = 0;

  explicit ReferenceAdamW(const std::vector<float>& initial)
      : param(initial.begin(), initial.end()), exp_avg(initial.size()), exp_avg_sq(initial.size()) {}

  void update(const std::vector<float>& grad, double lr, double weight_decay) {
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    ++step;
    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);
    for (size_t i = 0; i < param.size(); ++i) {
      param[i] *= 1 - lr * weight_decay;
      exp_avg[i] = beta1 * exp_avg[i] + (1 - beta1) * grad[i];
      exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1 - beta2) * grad[i] * grad[i];
      const double denom = std::sqrt(exp_avg_sq[i]) / std::sqrt(bias_correction2) + eps;
      param[i] -= lr / bias_correction1 * exp_avg[i] / denom;
    }
  }
};

void expect_values_near(const Parameter& param, const std::vector<double>& expected, double tolerance) {
  const std::vector<float> actual = param.value.to_float_vector();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance) << param.name << "[" << i << "]";
}

TEST(AdamW, MatchesTorchFormulaWithGroupsDecayAndChangingLr) {
  Parameter weight = make_param("encoder.weight", {0.5f, -1.25f, 2.0f, 0.0f, -0.75f, 1.5f});
  Parameter bias = make_param("encoder.bias", {0.1f, -0.2f, 0.3f});
  Parameter head = make_param("head.weight", {1.0f, -2.0f, 0.25f, 3.0f});
  bias.decay = false;
  ReferenceAdamW ref_weight(weight.value.to_float_vector());
  ReferenceAdamW ref_bias(bias.value.to_float_vector());
  ReferenceAdamW ref_head(head.value.to_float_vector());
  const double head_scale = 2.5;
  AdamW optimizer({{{&weight, &bias}, 1.0}, {{&head}, head_scale}}, AdamWOptions{.lr = 0.01, .weight_decay = 0.1});

  const std::vector<double> lrs = {0.0, 0.005, 0.01, 0.0075, 0.005, 0.0025, 0.001};
  for (int step = 0; step < static_cast<int>(lrs.size()); ++step) {
    set_grad(weight, synthetic_grad(6, step, 0));
    set_grad(bias, synthetic_grad(3, step, 1));
    set_grad(head, synthetic_grad(4, step, 2));
    optimizer.set_lr(lrs[step]);
    optimizer.step();
    ref_weight.update(weight.grad.to_float_vector(), lrs[step], 0.1);
    ref_bias.update(bias.grad.to_float_vector(), lrs[step], 0.0);
    ref_head.update(head.grad.to_float_vector(), lrs[step] * head_scale, 0.1);
  }
  expect_values_near(weight, ref_weight.param, 1e-6);
  expect_values_near(bias, ref_bias.param, 1e-6);
  expect_values_near(head, ref_head.param, 1e-6);
  EXPECT_EQ(optimizer.step_count(weight), 7);
}

TEST(AdamW, LargeTensorUpdateMatchesFormula) {
  const size_t size = 200'003;  // several parallel chunks and a ragged tail
  std::vector<float> initial(size);
  for (size_t i = 0; i < size; ++i) initial[i] = std::cos(0.001f * static_cast<float>(i));
  Parameter param = make_param("big", initial);
  ReferenceAdamW reference(initial);
  AdamW optimizer(ParameterList{&param}, AdamWOptions{.lr = 1e-3});
  for (int step = 0; step < 3; ++step) {
    set_grad(param, synthetic_grad(size, step, 3));
    optimizer.step();
    reference.update(param.grad.to_float_vector(), 1e-3, 0.01);
  }
  expect_values_near(param, reference.param, 1e-6);
}

TEST(AdamW, FirstStepMovesEachValueByLrTowardsMinusGradient) {
  // Step 1: m / sqrt(v) with bias correction is sign(g), so p' = p * (1 - lr wd) - lr sign(g).
  Parameter param = make_param("w", {1.0f, 1.0f});
  set_grad(param, {0.5f, -3.0f});
  AdamW optimizer(ParameterList{&param}, AdamWOptions{.lr = 0.1, .weight_decay = 0.0});
  optimizer.step();
  EXPECT_NEAR(param.value.to_float_vector()[0], 0.9f, 1e-6);
  EXPECT_NEAR(param.value.to_float_vector()[1], 1.1f, 1e-6);
}

TEST(AdamW, WeightDecayOnlyWhereEnabled) {
  // With zero gradients the Adam term is 0 / (0 + eps) = 0, so only the decay moves a value.
  Parameter decayed = make_param("layer.weight", {2.0f, -4.0f});
  Parameter kept = make_param("layer.bias", {2.0f, -4.0f});
  kept.decay = false;
  AdamW optimizer(ParameterList{&decayed, &kept}, AdamWOptions{.lr = 0.1, .weight_decay = 0.5});
  optimizer.step();
  EXPECT_FLOAT_EQ(decayed.value.to_float_vector()[0], 2.0f * 0.95f);
  EXPECT_FLOAT_EQ(decayed.value.to_float_vector()[1], -4.0f * 0.95f);
  EXPECT_EQ(kept.value.to_float_vector(), (std::vector<float>{2.0f, -4.0f}));
}

TEST(AdamW, LrScaleMultipliesTheGroupRate) {
  Parameter base = make_param("base", {1.0f});
  Parameter head = make_param("head", {1.0f});
  set_grad(base, {1.0f});
  set_grad(head, {1.0f});
  AdamW optimizer({{{&base}, 0.25}, {{&head}, 1.0}}, AdamWOptions{.lr = 0.04, .weight_decay = 0.0});
  optimizer.step();
  EXPECT_NEAR(base.value.to_float_vector()[0], 1.0f - 0.01f, 1e-7);
  EXPECT_NEAR(head.value.to_float_vector()[0], 1.0f - 0.04f, 1e-7);
}

TEST(AdamW, FrozenParametersKeepValuesAndGetNoState) {
  Parameter trained = make_param("head.weight", {1.0f, 2.0f});
  Parameter frozen = make_param("base.weight", {3.0f, 4.0f});
  Parameter without_grad = make_param("base.bias", {5.0f});
  set_grad(trained, {0.5f, 0.5f});
  set_grad(frozen, {0.5f, 0.5f});
  frozen.trainable = false;
  without_grad.grad = Tensor();
  AdamW optimizer(ParameterList{&trained, &frozen, &without_grad}, AdamWOptions{});
  optimizer.step();
  optimizer.step();
  EXPECT_NE(trained.value.to_float_vector(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(frozen.value.to_float_vector(), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_EQ(without_grad.value.to_float_vector(), (std::vector<float>{5.0f}));
  EXPECT_TRUE(optimizer.has_state(trained));
  EXPECT_FALSE(optimizer.has_state(frozen));
  EXPECT_FALSE(optimizer.has_state(without_grad));
  EXPECT_EQ(optimizer.state_dict().tensors.size(), 2U);

  // Unfreezing later starts that parameter's own step count (and bias correction) at 1.
  frozen.trainable = true;
  optimizer.step();
  EXPECT_EQ(optimizer.step_count(trained), 3);
  EXPECT_EQ(optimizer.step_count(frozen), 1);
}

TEST(Optimizer, ZeroGradClearsGradients) {
  Parameter param = make_param("w", {1.0f, 2.0f});
  set_grad(param, {3.0f, 4.0f});
  SGD optimizer(ParameterList{&param}, SGDOptions{.lr = 0.1});
  optimizer.zero_grad();
  EXPECT_EQ(param.grad.to_float_vector(), (std::vector<float>{0.0f, 0.0f}));
}

TEST(Optimizer, RejectsDuplicateNamesAndBadOptions) {
  Parameter first = make_param("w", {1.0f});
  Parameter second = make_param("w", {2.0f});
  EXPECT_THROW(AdamW(ParameterList{&first, &second}, AdamWOptions{}), Error);
  EXPECT_THROW(AdamW(ParameterList{&first}, AdamWOptions{.beta1 = 1.0}), Error);
  EXPECT_THROW(SGD(ParameterList{&first}, SGDOptions{.nesterov = true}), Error);
}

// Runs `steps` optimizer steps from `first_step` on the given parameters with synthetic gradients.
void run_steps(Optimizer& optimizer, const std::vector<Parameter*>& params, int first_step, int steps) {
  for (int step = first_step; step < first_step + steps; ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      set_grad(*params[i], synthetic_grad(static_cast<size_t>(params[i]->value.numel()), step, static_cast<int>(i)));
    }
    optimizer.set_lr(1e-2 / (1 + step));
    optimizer.step();
  }
}

struct Model {
  Parameter weight = make_param("weight", {0.5f, -1.5f, 2.5f});
  Parameter bias = make_param("bias", {0.1f, 0.2f});
  Parameter frozen = make_param("frozen", {7.0f});
  Model() {
    bias.decay = false;
    frozen.trainable = false;
  }
  std::vector<Parameter*> all() { return {&weight, &bias, &frozen}; }
};

template <typename MakeOptimizer>
void expect_resume_matches_uninterrupted(MakeOptimizer make_optimizer) {
  Model uninterrupted;
  auto reference = make_optimizer(uninterrupted);
  run_steps(*reference, uninterrupted.all(), 0, 6);

  Model before;
  auto first = make_optimizer(before);
  run_steps(*first, before.all(), 0, 3);
  const OptimizerState saved = first->state_dict();

  Model resumed;
  resumed.weight.value = before.weight.value.clone();
  resumed.bias.value = before.bias.value.clone();
  auto second = make_optimizer(resumed);
  second->set_lr(123.0);
  second->load_state_dict(saved);
  EXPECT_EQ(second->lr(), first->lr());
  run_steps(*second, resumed.all(), 3, 3);

  EXPECT_EQ(resumed.weight.value.to_float_vector(), uninterrupted.weight.value.to_float_vector());
  EXPECT_EQ(resumed.bias.value.to_float_vector(), uninterrupted.bias.value.to_float_vector());
  EXPECT_EQ(resumed.frozen.value.to_float_vector(), (std::vector<float>{7.0f}));
}

TEST(AdamW, ResumeFromStateDictMatchesUninterruptedRun) {
  expect_resume_matches_uninterrupted(
      [](Model& model) { return std::make_unique<AdamW>(model.all(), AdamWOptions{.weight_decay = 0.1}); });
}

TEST(SGD, ResumeFromStateDictMatchesUninterruptedRun) {
  expect_resume_matches_uninterrupted([](Model& model) {
    return std::make_unique<SGD>(model.all(), SGDOptions{.momentum = 0.9, .nesterov = true, .weight_decay = 0.1});
  });
}

TEST(AdamW, LoadStateDictRejectsForeignOrMismatchedState) {
  Model model;
  AdamW adamw(model.all(), AdamWOptions{});
  SGD sgd(model.all(), SGDOptions{.momentum = 0.9});
  run_steps(sgd, model.all(), 0, 1);
  EXPECT_THROW(adamw.load_state_dict(sgd.state_dict()), Error);

  run_steps(adamw, model.all(), 0, 1);
  OptimizerState state = adamw.state_dict();
  for (auto& [key, tensor] : state.tensors) {
    if (key == "weight.exp_avg") tensor = Tensor::zeros({4});
  }
  EXPECT_THROW(adamw.load_state_dict(state), Error);
  state.meta["steps"]["no_such_parameter"] = 1;
  EXPECT_THROW(adamw.load_state_dict(state), Error);
}

TEST(SGD, MomentumMatchesHandComputation) {
  // lr 0.1, momentum 0.9: buf = 1, 0.9 + 2 = 2.9, 2.61 + 3 = 5.61; p = 1 - 0.1, -0.29, -0.561.
  Parameter param = make_param("w", {1.0f});
  SGD optimizer(ParameterList{&param}, SGDOptions{.lr = 0.1, .momentum = 0.9});
  const std::vector<double> expected = {0.9, 0.61, 0.049};
  for (int step = 0; step < 3; ++step) {
    set_grad(param, {static_cast<float>(step + 1)});
    optimizer.step();
    EXPECT_NEAR(param.value.to_float_vector()[0], expected[step], 1e-6) << "step " << step;
  }
}

TEST(SGD, NesterovMatchesHandComputation) {
  // Direction g + 0.9 buf: 1 + 0.9 = 1.9, then buf = 2.9 and 2 + 2.61 = 4.61.
  Parameter param = make_param("w", {1.0f});
  SGD optimizer(ParameterList{&param}, SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
  const std::vector<double> expected = {0.81, 0.349};
  for (int step = 0; step < 2; ++step) {
    set_grad(param, {static_cast<float>(step + 1)});
    optimizer.step();
    EXPECT_NEAR(param.value.to_float_vector()[0], expected[step], 1e-6) << "step " << step;
  }
}

TEST(SGD, WeightDecayAddsToGradientWhereEnabled) {
  // g + wd p = 1 + 0.1 * 2 = 1.2 -> p = 2 - 0.5 * 1.2 = 1.4; without decay p = 2 - 0.5 = 1.5.
  Parameter decayed = make_param("w", {2.0f});
  Parameter kept = make_param("b", {2.0f});
  kept.decay = false;
  set_grad(decayed, {1.0f});
  set_grad(kept, {1.0f});
  SGD optimizer(ParameterList{&decayed, &kept}, SGDOptions{.lr = 0.5, .weight_decay = 0.1});
  optimizer.step();
  EXPECT_FLOAT_EQ(decayed.value.to_float_vector()[0], 1.4f);
  EXPECT_FLOAT_EQ(kept.value.to_float_vector()[0], 1.5f);
  EXPECT_FALSE(optimizer.has_state(decayed));  // no momentum, no buffer
}

TEST(DefaultDecay, ExcludesBiasesAndLayerNorms) {
  EXPECT_TRUE(default_decay("distilbert.transformer.layer.0.attention.q_lin.weight"));
  EXPECT_TRUE(default_decay("distilbert.embeddings.word_embeddings.weight"));
  EXPECT_FALSE(default_decay("distilbert.transformer.layer.0.attention.q_lin.bias"));
  EXPECT_FALSE(default_decay("distilbert.transformer.layer.0.sa_layer_norm.weight"));
  EXPECT_FALSE(default_decay("distilbert.embeddings.LayerNorm.weight"));
  EXPECT_FALSE(default_decay("bert.encoder.layer.0.output.LayerNorm.weight"));
  EXPECT_FALSE(default_decay("vocab_layer_norm.weight"));
}

TEST(ClipGradNorm, ScalesByMaxNormOverTotalNorm) {
  Parameter first = make_param("a", {0.0f, 0.0f});
  Parameter second = make_param("b", {0.0f});
  Parameter frozen = make_param("c", {0.0f});
  set_grad(first, {3.0f, 4.0f});
  set_grad(second, {12.0f});
  set_grad(frozen, {100.0f});
  frozen.trainable = false;
  const ParameterList params{&first, &second, &frozen};
  EXPECT_FLOAT_EQ(grad_norm(params), 13.0f);
  const float norm = clip_grad_norm(params, 1.0f);
  EXPECT_FLOAT_EQ(norm, 13.0f);
  const double coef = 1.0 / (13.0 + 1e-6);
  EXPECT_NEAR(first.grad.to_float_vector()[0], 3.0 * coef, 1e-7);
  EXPECT_NEAR(first.grad.to_float_vector()[1], 4.0 * coef, 1e-7);
  EXPECT_NEAR(second.grad.to_float_vector()[0], 12.0 * coef, 1e-7);
  EXPECT_EQ(frozen.grad.to_float_vector()[0], 100.0f);
}

TEST(ClipGradNorm, LeavesGradientsBelowMaxNorm) {
  Parameter param = make_param("a", {0.0f, 0.0f});
  set_grad(param, {0.3f, -0.4f});
  EXPECT_FLOAT_EQ(clip_grad_norm(ParameterList{&param}, 1.0f), 0.5f);
  EXPECT_EQ(param.grad.to_float_vector(), (std::vector<float>{0.3f, -0.4f}));
  EXPECT_THROW(clip_grad_norm(ParameterList{&param}, 0.0f), Error);
}

TEST(ClipGradNorm, LargeTensorNormMatchesDoubleSum) {
  const size_t size = 1'000'001;
  Parameter param = make_param("big", std::vector<float>(size));
  set_grad(param, synthetic_grad(size, 0, 0));
  double sum = 0.0;
  for (float g : param.grad.to_float_vector()) sum += static_cast<double>(g) * g;
  EXPECT_NEAR(grad_norm(ParameterList{&param}), std::sqrt(sum), 1e-6 * std::sqrt(sum));
}

TEST(ScaleGrads, MultipliesTrainableGradients) {
  Parameter param = make_param("a", {0.0f, 0.0f});
  Parameter frozen = make_param("b", {0.0f});
  set_grad(param, {2.0f, -6.0f});
  set_grad(frozen, {2.0f});
  frozen.trainable = false;
  scale_grads(ParameterList{&param, &frozen}, 0.25f);
  EXPECT_EQ(param.grad.to_float_vector(), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(frozen.grad.to_float_vector(), (std::vector<float>{2.0f}));
}

}  // namespace
}  // namespace graft
