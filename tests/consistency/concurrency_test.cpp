// One loaded model serves many threads: pipelines sharing a model, run from 4 threads at once, give exactly
// what they give alone. Built once more under ThreadSanitizer in the test suite (scripts/test.sh), which
// reports any state a forward still writes in the model.
#include <thread>

#include "graft/pipelines/feature_extraction.h"
#include "graft/pipelines/text_classification.h"
#include "graft/pipelines/token_classification.h"
#include "test_support.h"

namespace graft {
namespace {

constexpr int kThreads = 4;
constexpr int kRoundsPerThread = 300;

const std::vector<std::string> kTexts = {"the quick brown fox", "hello world , the lazy dog is playing", "a",
                                         "cafe naive and the fox jump over it",
                                         "the dog was playing with his fox when we said hello world"};

// Everything the three pipelines answer for kTexts, compared exactly: the same kernels on the same batches
// give the same bits, whichever thread runs them.
struct Answers {
  std::vector<std::vector<LabelScore>> labels;
  std::vector<TokenClassificationResult> tags;
  std::vector<std::vector<float>> features;
  bool operator==(const Answers&) const = default;
};

struct SharedPipelines {
  // Text classification and feature extraction share one classifier; token classification has a tagger.
  std::unique_ptr<Model> classifier =
      Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert", test::on_test_device());
  std::unique_ptr<Model> tagger = Model::from_pretrained(test::fixtures_dir() + "/tiny-bert", test::on_test_device());
  TextClassificationPipeline classify{
      *classifier, Tokenizer::from_pretrained(test::fixtures_dir() + "/tiny-distilbert"), all_labels()};
  FeatureExtractionPipeline embed{*classifier, Tokenizer::from_pretrained(test::fixtures_dir() + "/tiny-distilbert"),
                                  mean_pooled()};
  TokenClassificationPipeline tag{*tagger, Tokenizer::from_pretrained(test::fixtures_dir() + "/tiny-bert"),
                                  every_tag()};

  static TextClassificationOptions all_labels() {
    TextClassificationOptions options;
    options.top_k = 0;
    options.batch_size = 2;  // several batches per call, padded differently
    return options;
  }
  static FeatureExtractionOptions mean_pooled() {
    FeatureExtractionOptions options;
    options.pooling = Pooling::Mean;
    options.batch_size = 3;
    return options;
  }
  static TokenClassificationOptions every_tag() {
    TokenClassificationOptions options;
    options.ignore_labels = {};
    options.batch_size = 2;
    return options;
  }

  Answers answer() { return {classify(kTexts), tag(kTexts), embed(kTexts)}; }
};

TEST(Concurrency, FourThreadsRunningThreePipelinesOnSharedModelsGetTheSingleThreadedAnswers) {
  SharedPipelines pipelines;
  const Answers alone = pipelines.answer();
  ASSERT_EQ(alone.labels.size(), kTexts.size());
  ASSERT_FALSE(alone.tags[1].entities.empty());

  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < kRoundsPerThread; ++round) mismatches[t] += pipelines.answer() == alone ? 0 : 1;
      } catch (const std::exception& error) {
        errors[t] = error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    EXPECT_EQ(mismatches[t], 0) << "thread " << t << ": rounds whose answers differ from the single-threaded ones";
  }
}

}  // namespace
}  // namespace graft
