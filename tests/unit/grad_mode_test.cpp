// NoGradGuard (torch.no_grad): the same outputs, nothing kept for backward, and a clear error for a
// backward that has nothing to work with. On the repo's tiny DistilBERT and BERT fixtures.
#include "graft/core/grad_mode.h"

#include <gtest/gtest.h>

#include <string>

#include "graft/core/allocator.h"
#include "graft/core/error.h"
#include "graft/models/layers.h"
#include "graft/models/model.h"
#include "test_support.h"

namespace graft {
namespace {

Batch two_sentences() {
  Batch batch;
  batch.input_ids = Tensor::from_vector(std::vector<int64_t>{2, 7, 9, 11, 3, 2, 8, 3, 0, 0}, {2, 5});
  batch.attention_mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  batch.labels = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
  return batch;
}

class GradMode : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Model> load() const {
    LoadOptions options;
    options.task = TaskHead::SequenceClassification;  // tiny-bert is a token classifier
    auto model = Model::from_pretrained(test::fixtures_dir() + "/" + GetParam(), options);
    model->set_training(false);
    return model;
  }
};

TEST_P(GradMode, TheGuardNestsAndRestores) {
  EXPECT_TRUE(grad_enabled());
  {
    const NoGradGuard outer;
    EXPECT_FALSE(grad_enabled());
    {
      const NoGradGuard inner;
      EXPECT_FALSE(grad_enabled());
    }
    EXPECT_FALSE(grad_enabled());
  }
  EXPECT_TRUE(grad_enabled());
}

TEST_P(GradMode, ForwardWithoutGradientsGivesTheSameLogitsAndLoss) {
  auto model = load();
  const Batch batch = two_sentences();
  ForwardContext training;
  const ModelOutput with_gradients = model->forward(batch, training);
  EXPECT_FALSE(training.empty());
  const NoGradGuard no_grad;
  ForwardContext inference;
  const ModelOutput without = model->forward(batch, inference);
  EXPECT_TRUE(inference.empty()) << "an inference forward keeps nothing";
  EXPECT_EQ(test::max_abs_diff(without.logits, with_gradients.logits), 0.0);
  EXPECT_EQ(without.loss.data<float>()[0], with_gradients.loss.data<float>()[0]);
}

TEST_P(GradMode, BackwardAfterANoGradForwardIsAnError) {
  auto model = load();
  ForwardContext context;
  {
    const NoGradGuard no_grad;
    model->forward(two_sentences(), context);
  }
  try {
    model->backward(context);
    FAIL() << "backward() ran without saved activations";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("NoGradGuard"), std::string::npos) << error.what();
  }
  model->forward(two_sentences(), context);
  EXPECT_NO_THROW(model->backward(context));
  EXPECT_TRUE(context.empty()) << "a backward takes everything its forward kept";
}

// As autograd without retain_graph: a backward frees what its forward kept, so a second one has nothing to use.
TEST_P(GradMode, ASecondBackwardAfterOneForwardIsAnError) {
  auto model = load();
  ForwardContext context;
  model->forward(two_sentences(), context);
  model->backward(context);
  try {
    model->backward(context);
    FAIL() << "a second backward() ran on freed activations";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("a backward frees those of its forward"), std::string::npos)
        << error.what();
  }
}

// The activations of a step are not held into the next one: after the backward only the gradients remain.
TEST(SavedActivations, ABackwardReleasesWhatItsForwardKept) {
  Linear linear(512, 512);
  const int64_t live_before = static_cast<int64_t>(allocator_stats().live_bytes);
  {
    const Tensor x = Tensor::full({1024, 512}, 0.5F);  // 2 MiB, so the block cache counts it
    ForwardContext context;
    Tensor y = linear.forward(x, context);
    linear.backward(Tensor::full(y.shape(), 1.0F), context);
  }
  const int64_t weight_gradient = 512 * 512 * 4;
  EXPECT_EQ(static_cast<int64_t>(allocator_stats().live_bytes) - live_before, weight_gradient);
}

TEST_P(GradMode, HiddenStatesAndAttentionsOnlyWhenAskedFor) {
  auto model = load();
  const auto layers = static_cast<size_t>(model->config().num_hidden_layers);
  const NoGradGuard no_grad;
  ForwardContext context;
  const ModelOutput plain = model->forward(two_sentences(), context);
  EXPECT_TRUE(plain.encoder.hidden_states.empty());
  EXPECT_TRUE(plain.encoder.attentions.empty());
  const ModelOutput full = model->forward(two_sentences(), context, {.hidden_states = true, .attentions = true});
  ASSERT_EQ(full.encoder.hidden_states.size(), layers + 1);
  ASSERT_EQ(full.encoder.attentions.size(), layers);
  EXPECT_EQ(test::max_abs_diff(full.encoder.hidden_states.back(), full.encoder.last_hidden_state), 0.0);
  EXPECT_EQ(full.encoder.attentions[0].shape(), (Shape{2, model->config().num_attention_heads, 5, 5}));
  // Each row of probabilities sums to 1 and padding gets none of it.
  const float* probs = full.encoder.attentions[0].data<float>();
  const int64_t last_row = full.encoder.attentions[0].numel() / 5 - 1;
  EXPECT_NEAR(probs[last_row * 5] + probs[last_row * 5 + 1] + probs[last_row * 5 + 2], 1.0, 1e-6);
  EXPECT_EQ(probs[last_row * 5 + 3], 0.0F);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GradMode, ::testing::Values("tiny-distilbert", "tiny-bert"));

}  // namespace
}  // namespace graft
