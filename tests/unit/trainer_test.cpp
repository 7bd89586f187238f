// The Trainer's bookkeeping: an interrupted run resumed from its checkpoint ends exactly where an
// uninterrupted one does (weights, optimizer state, schedule, shuffling and dropout), and gradient
// accumulation over two half batches equals one step on the whole batch; with the encoder frozen, training
// the head on cached features follows the same trajectory as running the encoder every step.
#include "graft/train/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/data/batch_source.h"
#include "graft/data/collator.h"
#include "graft/io/file.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"
#include "graft/train/feature_cache.h"
#include "graft/train/freezing.h"
#include "graft/train/training_step.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

const std::vector<std::string> kTexts = {
    "the quick brown fox", "hello world !", "the lazy dog",          "play ##ing is fun", "cafe naive",
    "the fox is quick",    "hello dog",     "un ##aff ##able world", "zero width",        "the brown dog played"};
const std::vector<int64_t> kClasses = {2, 1, 0, 2, 1, 2, 1, 0, 0, 2};

std::string fixture() {
  return test::fixtures_dir() + "/tiny-distilbert";
}

EncodedSource fixture_data(int64_t batch_size) {
  const Tokenizer tokenizer = Tokenizer::from_pretrained(fixture());
  std::vector<Encoding> encodings;
  for (const auto& text : kTexts) encodings.push_back(tokenizer.encode(text));
  Labels labels;
  labels.classes = kClasses;
  return EncodedSource(encodings, labels, batch_size, tokenizer.pad_id(), BatchOrder::Shuffled, 7);
}

std::unique_ptr<Model> fixture_model() {
  LoadOptions options;
  options.dropout = 0.1;  // dropout on, so the resumed run must also restore the generator
  return Model::from_pretrained(fixture(), options);
}

TrainingArguments arguments(const std::string& output) {
  TrainingArguments args;
  args.output_dir = output;
  args.epochs = 3;
  args.learning_rate = 1e-2;
  args.weight_decay = 0.01;
  args.warmup_steps = 2;
  args.eval_strategy = "epoch";
  args.load_best_model_at_end = false;
  args.save_total_limit = 10;
  args.progress_bar = false;
  return args;
}

TEST(Trainer, ResumedRunEndsExactlyWhereAnUninterruptedOneDoes) {
  const EncodedSource data = fixture_data(4);
  const std::string whole = (fs::temp_directory_path() / "graft-trainer-whole").string();
  const std::string interrupted = (fs::temp_directory_path() / "graft-trainer-interrupted").string();
  fs::remove_all(whole);
  fs::remove_all(interrupted);

  auto reference = fixture_model();
  Trainer(*reference, arguments(whole)).train(data, &data);

  // The same run, stopped after its first epoch: only checkpoint-3 (3 steps per epoch) survives.
  auto first = fixture_model();
  Trainer(*first, arguments(interrupted)).train(data, &data);
  for (const auto& entry : fs::directory_iterator(interrupted)) {
    if (entry.path().filename() != "checkpoint-3" && entry.is_directory()) fs::remove_all(entry.path());
  }
  // What a kill leaves (a checkpoint that never moved into place) and a user's stray folder; neither is a
  // checkpoint of the run ("checkpoint-abc" stopped the resume with "stoll" before).
  fs::create_directories(interrupted + "/.checkpoint-6.partial");
  fs::create_directories(interrupted + "/checkpoint-abc");
  fs::copy_file(interrupted + "/checkpoint-3/trainer_state.json", interrupted + "/checkpoint-abc/trainer_state.json");
  auto resumed = fixture_model();  // fresh weights and generator: everything must come from the checkpoint
  const TrainResult result = Trainer(*resumed, arguments(interrupted)).train(data, &data, true);
  EXPECT_EQ(result.global_step, 9);
  EXPECT_FALSE(fs::exists(interrupted + "/.checkpoint-6.partial"));
  // The log holds each step once, as the uninterrupted run's does (it held steps 4-9 twice before).
  const auto logged_steps = [](const std::string& dir) {
    std::vector<int64_t> steps;
    std::istringstream lines(read_file(dir + "/log.jsonl"));
    for (std::string line; std::getline(lines, line);) steps.push_back(nlohmann::json::parse(line).at("step"));
    return steps;
  };
  EXPECT_EQ(logged_steps(interrupted), logged_steps(whole));

  const auto expected = reference->named_parameters();
  const auto actual = resumed->named_parameters();
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(test::max_abs_diff(actual[i].second->value, expected[i].second->value), 0.0) << expected[i].first;
  }
}

// A checkpoint whose trainer_state.json lost fields or types, or that another configuration wrote, stops the
// resume with the file and field named (nlohmann's "key 'optimizer' not found" escaped before; a dim-16
// checkpoint resumed into a dim-32 model trained on and wrote a folder whose config contradicted its weights).
TEST(Trainer, ResumeRefusesABrokenStateOrAnotherConfiguration) {
  const EncodedSource data = fixture_data(4);
  const std::string output = (fs::temp_directory_path() / "graft-trainer-broken").string();
  fs::remove_all(output);
  TrainingArguments args = arguments(output);
  args.epochs = 1;
  auto model = fixture_model();
  Trainer(*model, args).train(data, &data);
  const std::string state_file = output + "/checkpoint-3/trainer_state.json";
  const nlohmann::json state = read_json_file(state_file);
  const auto resume_with = [&](const nlohmann::json& written) {
    write_file_atomically(state_file, written.dump());
    args.epochs = 2;
    auto fresh = fixture_model();
    try {
      Trainer(*fresh, args).train(data, &data, true);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(resume_with(nlohmann::json::object()),
            "[trainer] " + state_file + ": missing required field \"global_step\"");
  nlohmann::json wrong = state;
  wrong["global_step"] = "3";
  EXPECT_EQ(resume_with(wrong),
            "[trainer] " + state_file + ": field \"global_step\" must be a step count, got string \"3\"");
  wrong = state;
  wrong.erase("optimizer");
  EXPECT_EQ(resume_with(wrong), "[trainer] " + state_file + ": missing required field \"optimizer\"");
  EXPECT_EQ(resume_with(nlohmann::json::array()), "[trainer] " + state_file + ": must be a JSON object, got []");

  write_file_atomically(state_file, state.dump());
  ModelConfig wider = fixture_model()->config();
  wider.hidden_size = 32;
  auto other = Model::from_config(wider, TaskHead::SequenceClassification, 1);
  try {
    Trainer(*other, args).train(data, &data, true);
    ADD_FAILURE() << "resumed into a model of another configuration";
  } catch (const Error& error) {
    EXPECT_EQ(
        std::string(error.what()),
        "[trainer] " + output +
            "/checkpoint-3: tensor 'distilbert.embeddings.word_embeddings.weight' is [97, 16] "
            "in the checkpoint but [97, 32] in the model: the checkpoint belongs to a model of another configuration");
  }
  fs::remove_all(output);
}

// bf16 mixed precision (transformers' bf16=True) follows the fp32 run within bf16 rounding, records itself in
// training_args.json, and leaves the thread's matmuls in fp32 when done. The fixture's logits are large, so its
// first loss already moves by 4e-3 in bf16; nine AdamW steps carry that to 2.0e-2 (measured), hence 4e-2.
TEST(Trainer, ABf16RunFollowsTheFp32LossesWithinBf16Rounding) {
  const EncodedSource data = fixture_data(4);
  const auto losses_of = [&](bool bf16) {
    const std::string output =
        (fs::temp_directory_path() / (bf16 ? "graft-trainer-bf16" : "graft-trainer-fp32")).string();
    fs::remove_all(output);
    TrainingArguments args = arguments(output);
    args.bf16 = bf16;
    args.logging_steps = 1;
    args.learning_rate = 1e-3;
    auto model = fixture_model();
    const TrainResult result = Trainer(*model, args).train(data, &data);
    EXPECT_EQ(autocast_dtype(), DType::F32);
    EXPECT_EQ(nlohmann::json::parse(read_file(output + "/checkpoint-9/training_args.json")).at("bf16"), bf16);
    std::vector<double> losses;
    for (const auto& entry : result.log_history) {
      for (const char* key : {"loss", "eval_loss"}) {
        if (entry.contains(key)) losses.push_back(entry.at(key).get<double>());
      }
    }
    return losses;
  };
  const std::vector<double> fp32 = losses_of(false);
  const std::vector<double> bf16 = losses_of(true);
  ASSERT_EQ(fp32.size(), bf16.size());
  ASSERT_EQ(fp32.size(), 12U);  // 9 steps, 3 evaluations
  double worst = 0.0;
  for (size_t i = 0; i < fp32.size(); ++i) worst = std::max(worst, std::abs(bf16[i] - fp32[i]) / fp32[i]);
  std::printf("bf16 against fp32: worst relative loss difference %.2e\n", worst);
  EXPECT_GT(worst, 0.0);
  EXPECT_LT(worst, 4e-2);
}

TEST(Trainer, GradientAccumulationEqualsOneLargeBatch) {
  const Tokenizer tokenizer = Tokenizer::from_pretrained(fixture());
  EncodeOptions options;
  options.padding = Padding::MaxLength;
  options.max_length = 8;
  options.truncation = Truncation::LongestFirst;
  std::vector<Encoding> encodings;
  for (size_t i = 0; i < 4; ++i) encodings.push_back(tokenizer.encode(kTexts[i], options));
  const auto batch_of = [&](size_t begin, size_t end) {
    std::vector<const Encoding*> members;
    std::vector<int64_t> classes;
    for (size_t i = begin; i < end; ++i) {
      members.push_back(&encodings[i]);
      classes.push_back(kClasses[i]);
    }
    Batch batch = pad_batch(members, tokenizer.pad_id());
    set_class_labels(batch, classes);
    return batch;
  };
  const LRSchedule schedule(ScheduleKind::Constant, 1e-2, 0, 1);
  // SGD, not Adam: Adam's first step is lr * sign(gradient), which turns the rounding noise of gradients
  // that are zero in exact arithmetic (the key bias) into full-size steps.
  auto whole = Model::from_pretrained(fixture());
  SGD whole_optimizer(whole->parameters(), SGDOptions{});
  const StepResult one = training_step(*whole, whole_optimizer, schedule, 0, batch_of(0, 4), 1.0);
  auto halves = Model::from_pretrained(fixture());
  SGD halves_optimizer(halves->parameters(), SGDOptions{});
  const std::vector<Batch> micro = {batch_of(0, 2), batch_of(2, 4)};
  const StepResult two = training_step(*halves, halves_optimizer, schedule, 0, micro, 1.0);
  // Equal up to fp32 rounding (epsilon 1.19e-7), which the two paths do differently: the whole batch's matrix
  // products run on 32 rows, the halves' on 16 (oneDNN may order another shape's sums differently, and its 8-
  // and 16-lane kernels differ too), the halves' gradients are added and then halved, and their loss is a mean
  // of two means. So the bounds scale with what is compared:
  // - the loss, from logits that are 16-term sums about as large as the loss: 1e-6 of it;
  // - the gradient norm, dominated by the largest gradients: 1e-5 of it;
  // - each gradient: 1e-5 of its largest magnitude (the differences pass through the whole backward and sums
  //   over the 32 positions; measured up to 2.0e-6 on a Xeon, with AVX-512 and with ONEDNN_MAX_CPU_ISA=AVX2),
  //   plus 1e-6 of the largest gradient for the key bias, zero in exact arithmetic;
  // - each value after the SGD step p - lr * g (lr 1e-2, clipped g): lr times the gradient's bound, plus one
  //   rounding of p (epsilon * |p|: 1.19e-7 is a whole ulp for |p| in [1, 2)).
  // A real fault (a half counted twice or not halved) moves them by percents.
  EXPECT_NEAR(one.loss, two.loss, 1e-6 * std::fabs(one.loss));
  EXPECT_NEAR(one.grad_norm, two.grad_norm, 1e-5 * one.grad_norm);
  const auto a = whole->named_parameters();
  const auto b = halves->named_parameters();
  double largest_gradient = 0.0;
  for (const auto& [name, parameter] : a) largest_gradient = std::max(largest_gradient, test::max_abs(parameter->grad));
  constexpr double kEpsilon = std::numeric_limits<float>::epsilon();
  for (size_t i = 0; i < a.size(); ++i) {
    const double gradient_tolerance = 1e-5 * test::max_abs(a[i].second->grad) + 1e-6 * largest_gradient;
    const double value_tolerance = kEpsilon * test::max_abs(a[i].second->value) + 1e-2 * gradient_tolerance;
    EXPECT_LE(test::max_abs_diff(a[i].second->grad, b[i].second->grad), gradient_tolerance) << a[i].first;
    EXPECT_LE(test::max_abs_diff(a[i].second->value, b[i].second->value), value_tolerance) << a[i].first;
  }
}

// The fixture has no dropout, so the encoder gives the same features in train and eval mode and the two
// runs may differ only by rounding (the cache runs examples in other batches, longest first).
TEST(FeatureCache, TrainingTheHeadOnCachedFeaturesFollowsTheUncachedTrajectory) {
  const EncodedSource data = fixture_data(4);
  std::vector<std::unique_ptr<Model>> models;
  std::vector<TrainResult> results;
  for (const bool cache : {false, true}) {
    models.push_back(Model::from_pretrained(fixture()));
    apply_freeze_spec(*models.back(), "distilbert");
    TrainingArguments args = arguments("");
    args.eval_strategy = "no";
    args.cache_frozen_features = cache;
    results.push_back(Trainer(*models.back(), args).train(data));
  }
  EXPECT_NEAR(results[0].train_loss, results[1].train_loss, 1e-5);
  const auto uncached = models[0]->named_parameters();
  const auto cached = models[1]->named_parameters();
  for (size_t i = 0; i < uncached.size(); ++i) {
    EXPECT_LE(test::max_abs_diff(cached[i].second->value, uncached[i].second->value), 1e-5) << cached[i].first;
  }
  EXPECT_GT(test::max_abs_diff(models[1]->named_parameters().back().second->value,
                               Model::from_pretrained(fixture())->named_parameters().back().second->value),
            1e-3)
      << "the head did not train";
}

TEST(FeatureCache, FeaturesAreWhatTheHeadReadsAndBatchesKeepTheirExamplesAndLabels) {
  ForwardContext context;
  const EncodedSource data = fixture_data(3);
  auto model = Model::from_pretrained(fixture());
  apply_freeze_spec(*model, "distilbert");
  ASSERT_TRUE(can_cache_features(*model));
  const FeatureSource features(*model, data);
  ASSERT_EQ(features.features().shape(), (Shape{10, model->config().hidden_size}));
  model->set_training(false);
  for (int64_t index = 0; index < data.batches_per_epoch(); ++index) {
    const Batch tokens = data.batch(1, index);
    const Batch cached = features.batch(1, index);
    EXPECT_EQ(test::max_abs_diff(cached.labels, tokens.labels), 0.0);
    const Tensor expected = model->head()->read(model->forward(tokens, context).encoder);
    // The cache ran these examples in other batches (other padding, other rows per matrix product), so the
    // encoder's sums may be ordered differently: a forward of short sums (K <= 32) and LayerNorms stays within
    // 1e-5 of the largest feature (84 fp32 epsilons).
    EXPECT_LE(test::max_abs_diff(cached.features, expected), 1e-5 * test::max_abs(expected));
  }
}

TEST(FeatureCache, OnlyAFrozenEncoderUnderAOneVectorHeadIsCached) {
  auto model = Model::from_pretrained(fixture());
  EXPECT_FALSE(can_cache_features(*model));  // the encoder trains
  apply_freeze_spec(*model, "distilbert");
  EXPECT_TRUE(can_cache_features(*model));
  LoadOptions as_tagger;
  as_tagger.task = TaskHead::TokenClassification;
  auto tagger = Model::from_pretrained(fixture(), as_tagger);
  apply_freeze_spec(*tagger, "distilbert");
  EXPECT_FALSE(can_cache_features(*tagger));  // reads every token
  const EncodedSource data = fixture_data(4);
  try {
    const FeatureSource features(*tagger, data);
    FAIL() << "a token classifier's features were cached";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("frozen"), std::string::npos) << error.what();
  }
}

// Like PyTorch with requires_grad=False: the head still trains, and the encoder held nothing for a backward
// pass (unfreezing it afterwards finds no activations).
TEST(FeatureCache, AFrozenEncoderKeepsNoActivationsWhenTrainingOnTokens) {
  ForwardContext context;
  const EncodedSource data = fixture_data(5);
  auto model = Model::from_pretrained(fixture());
  apply_freeze_spec(*model, "distilbert");
  model->set_training(true);
  model->forward(data.batch(0, 0), context);
  model->backward(context);
  const Parameter* classifier = trainable_parameters(*model).back();
  EXPECT_GT(test::max_abs(classifier->grad), 0.0) << "the head got no gradient";
  model->forward(data.batch(0, 0), context);
  apply_freeze_spec(*model, "none");
  try {
    model->backward(context);
    FAIL() << "the frozen encoder kept its activations";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("keeps no activations"), std::string::npos) << error.what();
  }
}

TEST(FeatureCache, BackwardIntoATrainableEncoderAfterAForwardOnFeaturesIsAnError) {
  ForwardContext context;
  auto model = Model::from_pretrained(fixture());
  Batch batch;
  batch.features = Tensor::zeros({2, model->config().hidden_size});
  set_class_labels(batch, {0, 1});
  model->forward(batch, context);
  try {
    model->backward(context);
    FAIL() << "backward ran into an encoder that never saw the batch";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("precomputed features"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace graft
