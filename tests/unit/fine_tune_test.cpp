// The fine-tuning workflow's option parsing (train/fine_tune.h): class weights and stage specs.
#include "graft/train/fine_tune.h"

#include <gtest/gtest.h>

#include "graft/core/error.h"

namespace graft {
namespace {

std::string error_of(const std::string& spec) {
  try {
    class_weights_for(spec, {0, 1, 1, 2}, 3);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(ClassWeights, BalancedAndExplicitWeights) {
  EXPECT_TRUE(class_weights_for("", {0, 1}, 2).empty());
  // scikit-learn's balanced: 4 examples / (3 classes * count).
  const std::vector<float> balanced = class_weights_for("balanced", {0, 1, 1, 2}, 3);
  ASSERT_EQ(balanced.size(), 3U);
  EXPECT_FLOAT_EQ(balanced[0], 4.0F / 3.0F);
  EXPECT_FLOAT_EQ(balanced[1], 2.0F / 3.0F);
  EXPECT_FLOAT_EQ(balanced[2], 4.0F / 3.0F);
  EXPECT_EQ(class_weights_for("1,2.5,0.5", {0, 1, 1, 2}, 3), (std::vector<float>{1.0F, 2.5F, 0.5F}));
}

TEST(ClassWeights, BadWeightsAreClearErrors) {
  EXPECT_EQ(error_of("a,b,c"), "[train] --class-weights: 'a' is not a number");
  EXPECT_EQ(error_of("1,2x,3"), "[train] --class-weights: '2x' is not a number");
  EXPECT_EQ(error_of("nan,1,1"), "[train] --class-weights: weights must be finite and positive, got 'nan'");
  EXPECT_EQ(error_of("1,inf,1"), "[train] --class-weights: weights must be finite and positive, got 'inf'");
  EXPECT_EQ(error_of("1,-1,1"), "[train] --class-weights: weights must be finite and positive, got '-1'");
  EXPECT_EQ(error_of("1,0,1"), "[train] --class-weights: weights must be finite and positive, got '0'");
  EXPECT_EQ(error_of("1,2"), "[train] --class-weights has 2 values for 3 labels");
}

TEST(TrainingStage, KeysOverrideTheDefaults) {
  const TrainingStage stage = parse_training_stage("freeze=bert.embeddings+bert.pooler,lr=2e-5", {"none", 3, 1e-3});
  EXPECT_EQ(stage.freeze, "bert.embeddings,bert.pooler");
  EXPECT_EQ(stage.epochs, 3);
  EXPECT_DOUBLE_EQ(stage.learning_rate, 2e-5);
}

}  // namespace
}  // namespace graft
