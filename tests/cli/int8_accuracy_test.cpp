// The int8 path's accuracy bound (issue 17): the default base fine-tuned with `graft train` on Financial
// PhraseBank and on SST-2, then run in fp32 and with --int8's dynamic quantisation on their test sets: accuracy
// no more than 0.5 points below fp32's, and at least 99% of the predictions unchanged. The bound is one-sided:
// the about 1% of predictions that quantisation changes go either way, so their net count varies by about 3 of
// Financial PhraseBank's 970 sentences (0.3 points) from one fine-tuned model to the next, and a model whose
// int8 run got 5 more right than its fp32 run (0.52 points, the AVX2 build of 2026-12-08) lost nothing; a
// broken int8 path fails the 99%.
//
// Financial PhraseBank gets results/README.md's full fine-tune (two epochs at 1e-4, about two minutes on 2
// cores): after one epoch more of its test sentences sit near a decision boundary, and 98.6% of the predictions
// stayed unchanged. SST-2 gets one epoch of its first 2,000 training phrases (45 s). scripts/int8_accuracy.py
// measures the full recipe's models on every data set.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graft/core/grad_mode.h"
#include "graft/data/text_dataset_source.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kMaxLength = 64;  // results/README.md's recipe

std::string default_base() {
  return test::fixtures_dir() + "/../../models/all-MiniLM-L6-v2";
}

struct Agreement {
  double fp32_accuracy = 0, int8_accuracy = 0, unchanged = 0;
  int64_t examples = 0;
};

std::vector<int64_t> predictions(const Model& model, const BatchSource& source, std::vector<int64_t>* labels) {
  const NoGradGuard no_grad;
  std::vector<int64_t> predicted;
  for (int64_t i = 0; i < source.batches_per_epoch(); ++i) {
    const Batch batch = source.batch(0, i);
    ForwardContext nothing_kept;
    const Tensor logits = model.forward(batch, nothing_kept).logits.to(kCpu);
    const int64_t classes = logits.dim(1);
    for (int64_t row = 0; row < logits.dim(0); ++row) {
      const float* scores = logits.data<float>() + row * classes;
      predicted.push_back(std::max_element(scores, scores + classes) - scores);
      if (labels != nullptr) labels->push_back(batch.labels.to(kCpu).data<int64_t>()[row]);
    }
  }
  return predicted;
}

Agreement compare_int8_with_fp32(const std::string& model_dir, const std::string& test_file) {
  LoadOptions int8;
  int8.int8 = true;
  const auto fp32_model = Model::from_pretrained(model_dir);
  const auto int8_model = Model::from_pretrained(model_dir, int8);
  EXPECT_TRUE(int8_model->quantized_int8());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(model_dir);
  const LabelMap labels = LabelMap::from_id2label(fp32_model->config().id2label);
  const TextClassificationData data = load_text_classification(test_file, ReadOptions{}, tokenizer, labels, kMaxLength,
                                                               32, BatchOrder::LongestFirst, 0);
  std::vector<int64_t> truth;
  const std::vector<int64_t> fp32 = predictions(*fp32_model, *data.source, &truth);
  const std::vector<int64_t> quantized = predictions(*int8_model, *data.source, nullptr);
  Agreement agreement;
  agreement.examples = static_cast<int64_t>(truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    agreement.fp32_accuracy += fp32[i] == truth[i];
    agreement.int8_accuracy += quantized[i] == truth[i];
    agreement.unchanged += quantized[i] == fp32[i];
  }
  for (double* share : {&agreement.fp32_accuracy, &agreement.int8_accuracy, &agreement.unchanged}) {
    *share /= static_cast<double>(agreement.examples);
  }
  return agreement;
}

std::string first_lines(const std::string& path, int64_t lines, const std::string& target) {
  std::ifstream in(path);
  std::ofstream out(target);
  std::string line;
  for (int64_t i = 0; i <= lines && std::getline(in, line); ++i) out << line << '\n';  // the header and `lines` rows
  return target;
}

void expect_int8_within_bound(const std::string& name, const std::string& train_file, const std::string& test_file,
                              int epochs) {
  const std::string out = (fs::temp_directory_path() / ("graft-int8-" + name)).string();
  fs::remove_all(out);
  const auto trained = test::run_command(test::cli_path() + " train --no-progress --model " + default_base() +
                                         " --train " + train_file + " --output " + out +
                                         " --max-length 64 --batch-size 32 --seed 42 --eval-strategy no"
                                         " --stage freeze=none,epochs=" +
                                         std::to_string(epochs) + ",lr=1e-4");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const Agreement agreement = compare_int8_with_fp32(out, test_file);
  std::cout << "[ int8     ] " << name << ": " << agreement.examples << " test examples, accuracy fp32 "
            << agreement.fp32_accuracy << ", int8 " << agreement.int8_accuracy << "; " << agreement.unchanged
            << " of the predictions unchanged\n";
  EXPECT_GT(agreement.fp32_accuracy, 0.7) << name << ": the fine-tuning did not take";
  EXPECT_LE(agreement.fp32_accuracy - agreement.int8_accuracy, 0.005) << name << ": int8 costs accuracy";
  EXPECT_GE(agreement.unchanged, 0.99) << name;
  fs::remove_all(out);
}

#define GRAFT_REQUIRE_ACCURACY_INPUTS()                                                                        \
  do {                                                                                                         \
    if (!fs::exists(default_base() + "/model.safetensors"))                                                    \
      GTEST_SKIP() << "the default base is not installed at " << default_base() << " (scripts/setup.sh does)"; \
    if (!fs::exists(test::shared_dir() + "/data"))                                                             \
      GTEST_SKIP() << "no real data sets at " << test::shared_dir() << "/data (clone graft next to shared/)";  \
  } while (0)

#ifdef GRAFT_SANITIZED_BUILD
#define GRAFT_SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "fine-tuning a real model takes an hour under the sanitizers"
#else
#define GRAFT_SKIP_UNDER_SANITIZERS() (void)0
#endif

TEST(Int8Accuracy, FinancialPhraseBankFineTunedKeepsItsAccuracyAndPredictions) {
  GRAFT_SKIP_UNDER_SANITIZERS();
  GRAFT_REQUIRE_ACCURACY_INPUTS();
  const std::string data = test::shared_dir() + "/data/financial_phrasebank";
  expect_int8_within_bound("financial-phrasebank", data + "/train.csv", data + "/test.csv", 2);
}

TEST(Int8Accuracy, Sst2FineTunedKeepsItsAccuracyAndPredictions) {
  GRAFT_SKIP_UNDER_SANITIZERS();
  GRAFT_REQUIRE_ACCURACY_INPUTS();
  const std::string data = test::shared_dir() + "/data/sst2";
  const std::string train =
      first_lines(data + "/train.tsv", 2000, (fs::temp_directory_path() / "graft-int8-sst2-train.tsv").string());
  expect_int8_within_bound("sst-2", train, data + "/dev.tsv", 1);
}

}  // namespace
}  // namespace graft
