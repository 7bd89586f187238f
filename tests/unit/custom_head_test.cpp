// EncoderWithHead (a user's own head on a pretrained base, graft/models/custom.h): with the layers of
// DistilBertForSequenceClassification's head it must be the built-in Model exactly (same names, logits,
// loss and every gradient); a frozen base must leave only the head with gradients; and mean pooling's
// backward must agree with finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "graft/core/error.h"
#include "graft/io/safetensors.h"
#include "graft/models/custom.h"
#include "graft/ops/ops.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/freezing.h"
#include "test_support.h"

namespace graft {
namespace {

// The built-in model and the custom one are the same arithmetic in the same order, so they agree to
// rounding (in practice bit for bit).
constexpr double kSameModelTolerance = 1e-6;

// DistilBertForSequenceClassification's head, written as a user would write it (dropout off, as in the
// goldens), registered at the top level so its names are transformers' names.
std::unique_ptr<EncoderWithHead> custom_sequence_classifier(const std::string& dir, Pooling pooling = Pooling::Cls) {
  auto base = EncoderWithHead::load_base(dir);
  const int64_t dim = base->config().hidden_size;
  const int64_t labels = base->config().num_labels;
  auto head = std::make_unique<Sequential>();
  head->add("pre_classifier", std::make_unique<Linear>(dim, dim));
  head->add("relu", std::make_unique<ActivationLayer>(Activation::Relu));
  head->add("dropout", std::make_unique<Dropout>(0.0F));
  head->add("classifier", std::make_unique<Linear>(dim, labels));
  return std::make_unique<EncoderWithHead>(std::move(base), std::move(head), "", pooling);
}

// Copies the reference's head weights into the custom model by name, checking on the way that both
// models have exactly the same parameter names in the same order.
void copy_weights_by_name(const Module& from, Module& to) {
  const auto source = from.named_parameters();
  const auto target = to.named_parameters();
  ASSERT_EQ(source.size(), target.size());
  for (size_t i = 0; i < source.size(); ++i) {
    ASSERT_EQ(source[i].first, target[i].first);
    target[i].second->value = source[i].second->value.clone();
  }
}

void zero_gradients(Module& model) {
  for (Parameter* parameter : model.parameters()) {
    if (parameter->trainable) {
      parameter->ensure_grad();
      parameter->zero_grad();
    }
  }
}

// Forward and backward of both models on `batch`; logits, loss and every gradient must agree.
void expect_same_as_builtin(const std::string& dir, const Batch& batch) {
  ForwardContext context;
  auto reference = Model::from_pretrained(dir);
  ASSERT_EQ(reference->task(), TaskHead::SequenceClassification);
  auto custom = custom_sequence_classifier(dir);
  copy_weights_by_name(*reference, *custom);

  zero_gradients(*reference);
  zero_gradients(*custom);
  const ModelOutput expected = reference->forward(batch, context);
  reference->backward(context);
  const ModelOutput actual = custom->forward(batch, context);
  custom->backward(context);

  EXPECT_TENSOR_NEAR(actual.logits, expected.logits, kSameModelTolerance);
  EXPECT_TENSOR_NEAR(actual.loss, expected.loss, kSameModelTolerance);
  const auto reference_parameters = reference->named_parameters();
  const auto custom_parameters = custom->named_parameters();
  for (size_t i = 0; i < custom_parameters.size(); ++i) {
    const auto& [name, parameter] = custom_parameters[i];
    const Parameter& twin = *reference_parameters[i].second;
    if (!parameter->trainable) continue;  // fixed position tables
    ASSERT_EQ(parameter->grad.shape(), twin.grad.shape()) << name;
    EXPECT_LE(test::max_abs_diff(parameter->grad, twin.grad), kSameModelTolerance) << name;
  }
}

Batch golden_batch(const SafetensorsFile& golden) {
  Batch batch;
  batch.input_ids = golden.load("input_ids", DType::I64);
  batch.attention_mask = golden.load("attention_mask", DType::I64);
  batch.labels = golden.load("labels", DType::I64);
  return batch;
}

// A padded batch of real sentences from the fixture's own tokenizer.
Batch fixture_batch(const std::string& dir) {
  const Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  EncodeOptions options;
  options.padding = Padding::Longest;
  const auto encodings =
      tokenizer.encode_batch({"the movie was great", "bad", "it was fine, i guess", "not good at all"}, options);
  const auto rows = static_cast<int64_t>(encodings.size());
  const auto tokens = static_cast<int64_t>(encodings[0].size());
  std::vector<int64_t> ids;
  std::vector<int64_t> mask;
  for (const Encoding& encoding : encodings) {
    ids.insert(ids.end(), encoding.ids.begin(), encoding.ids.end());
    mask.insert(mask.end(), encoding.attention_mask.begin(), encoding.attention_mask.end());
  }
  Batch batch;
  batch.input_ids = Tensor::from_vector(ids, {rows, tokens});
  batch.attention_mask = Tensor::from_vector(mask, {rows, tokens});
  batch.labels = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 0}, {rows});
  return batch;
}

std::string fixture_model() {
  return test::fixtures_dir() + "/tiny-distilbert";
}

TEST(CustomHead, MatchesDistilBertForSequenceClassificationOnTheGolden) {
  GRAFT_REQUIRE_GOLDEN();
  ForwardContext context;
  const std::string folder = test::golden_dir() + "/distilbert_seqcls";
  const SafetensorsFile golden = SafetensorsFile::open(folder + "/forward_backward.safetensors");
  const Batch batch = golden_batch(golden);
  expect_same_as_builtin(folder + "/checkpoint", batch);

  // And, through the built-in model, transformers itself (the README's tolerances).
  auto custom = custom_sequence_classifier(folder + "/checkpoint");
  copy_weights_by_name(*Model::from_pretrained(folder + "/checkpoint"), *custom);
  custom->to(test::device());
  const ModelOutput output = custom->forward(batch.to(test::device()), context);
  EXPECT_TENSOR_NEAR(output.logits, golden.load("logits"), 1e-4);
  EXPECT_TENSOR_NEAR(output.loss, golden.load("loss"), 1e-4);
}

TEST(CustomHead, MatchesDistilBertForSequenceClassificationOnTheFixture) {
  expect_same_as_builtin(fixture_model(), fixture_batch(fixture_model()));
}

TEST(CustomHead, HeadNamesAreTransformersNamesOrUnderTheChosenPrefix) {
  auto base = EncoderWithHead::load_base(fixture_model());
  auto head = std::make_unique<Sequential>();
  head->add("classifier", std::make_unique<Linear>(16, 3));
  EncoderWithHead model(std::move(base), std::move(head), "my_head");
  const auto parameters = model.named_parameters();
  EXPECT_EQ(parameters.front().first, "distilbert.embeddings.word_embeddings.weight");
  EXPECT_EQ(parameters.back().first, "my_head.classifier.bias");
  EXPECT_EQ(parameters.back().second->name, "my_head.classifier.bias");  // named for optimizer state
}

TEST(CustomHead, RejectsABaseThatHasItsOwnHead) {
  auto head = std::make_unique<Sequential>();
  head->add("classifier", std::make_unique<Linear>(16, 3));
  EXPECT_THROW(EncoderWithHead(Model::from_pretrained(fixture_model()), std::move(head)), Error);
}

TEST(CustomHead, FrozenBaseGivesGradientsToTheHeadOnly) {
  ForwardContext context;
  auto model = custom_sequence_classifier(fixture_model());
  copy_weights_by_name(*Model::from_pretrained(fixture_model()), *model);  // a zero head passes no gradient
  apply_freeze_spec(*model, "distilbert");
  zero_gradients(*model);
  model->forward(fixture_batch(fixture_model()), context);
  model->backward(context);
  for (const auto& [name, parameter] : model->named_parameters()) {
    const bool in_base = name.rfind("distilbert.", 0) == 0;
    EXPECT_EQ(parameter->trainable, !in_base) << name;
    if (in_base) {
      EXPECT_TRUE(parameter->grad.numel() == 0 || test::max_abs(parameter->grad) == 0.0) << name;
    } else {
      EXPECT_GT(test::max_abs(parameter->grad), 0.0) << name;
    }
  }
}

// Central differences of loss() in each value of `variable` against `analytic` (fp32, h = 1e-2).
void expect_gradient(Tensor& variable, const Tensor& analytic, const std::function<double()>& loss,
                     const std::string& what, int64_t count) {
  constexpr float kStep = 1e-2F;
  float* values = variable.data<float>();
  for (int64_t i = 0; i < count; ++i) {
    const float saved = values[i];
    values[i] = saved + kStep;
    const double up = loss();
    values[i] = saved - kStep;
    const double down = loss();
    values[i] = saved;
    const double numeric = (up - down) / (2.0 * kStep);
    EXPECT_NEAR(analytic.data<float>()[i], numeric, 2e-3 + 1e-2 * std::fabs(numeric)) << what << "[" << i << "]";
  }
}

using test::random_tensor;

TEST(MeanPool, AveragesTheUnmaskedTokensAndItsBackwardMatchesFiniteDifferences) {
  Tensor hidden = random_tensor({3, 4, 5}, 1);
  // A padded row, a full row and a row with no tokens at all (pools to zeros, gets no gradient).
  const Tensor mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 4});
  const Tensor pooled = ops::mean_pool(hidden, mask);
  ASSERT_EQ(pooled.shape(), (Shape{3, 5}));
  for (int64_t d = 0; d < 5; ++d) {
    const float* h = hidden.data<float>();
    EXPECT_FLOAT_EQ(pooled.data<float>()[d], (h[d] + h[5 + d]) / 2.0F);
    EXPECT_EQ(pooled.data<float>()[10 + d], 0.0F);
  }
  const Tensor weights = random_tensor({3, 5}, 2);
  const auto loss = [&] {
    const Tensor y = ops::mean_pool(hidden, mask);
    double total = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data<float>()[i]) * weights.data<float>()[i];
    return total;
  };
  expect_gradient(hidden, ops::mean_pool_backward(weights, mask), loss, "mean_pool", hidden.numel());
}

TEST(MeanPool, GradientsReachTheEncoderThroughAMeanPooledHead) {
  ForwardContext context;
  auto model = custom_sequence_classifier(fixture_model(), Pooling::Mean);
  copy_weights_by_name(*Model::from_pretrained(fixture_model()), *model);
  const Batch batch = fixture_batch(fixture_model());
  zero_gradients(*model);
  model->forward(batch, context);
  model->backward(context);
  const auto loss = [&] {
    const NoGradGuard no_grad;
    return static_cast<double>(model->forward(batch, context).loss.data<float>()[0]);
  };
  const auto named = model->named_parameters();
  const std::map<std::string, Parameter*> by_name(named.begin(), named.end());
  // The head, the top layer's output (straight below the pooling) and a tensor inside the lower layer.
  for (const char* name : {"pre_classifier.bias", "distilbert.transformer.layer.1.output_layer_norm.bias",
                           "distilbert.transformer.layer.0.ffn.lin2.bias"}) {
    Parameter& parameter = *by_name.at(name);
    const Tensor analytic = parameter.grad.clone();
    expect_gradient(parameter.value, analytic, loss, name, parameter.value.numel());
  }
}

}  // namespace
}  // namespace graft
