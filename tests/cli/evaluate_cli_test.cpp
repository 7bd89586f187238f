// `graft evaluate` and `graft params` end to end, and the bridge from a labelled file to batches
// (load_text_classification, labels_for_training) that they and `graft train` use.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "graft/data/text_dataset_source.h"
#include "graft/models/model.h"
#include "graft/pipelines/text_classification.h"
#include "graft/train/evaluate.h"
#include "graft/train/task_labels.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

std::string tiny_distilbert() {
  return test::fixtures_dir() + "/tiny-distilbert";
}
std::string golden_checkpoint() {
  return test::golden_dir() + "/distilbert_seqcls/checkpoint";
}

test::CommandResult graft_cli(const std::string& arguments) {
  return test::run_command("HF_HUB_OFFLINE=1 " + test::cli_path() + " " + arguments);
}

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("graft-evaluate-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

const char* const kSentiment =
    "text,label\n"
    "the results were terrible,negative\n"
    "sales fell sharply,negative\n"
    "the meeting is on tuesday,neutral\n"
    "the company has offices in helsinki,neutral\n"
    "profit rose strongly,positive\n"
    "a great quarter for the group,positive\n"
    "orders grew,positive\n";

nlohmann::json last_json_line(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last);
}

double pipeline_accuracy(const std::string& model_dir, const TextDataset& dataset) {
  auto pipeline = TextClassificationPipeline::from_pretrained(model_dir);
  std::vector<std::string> texts;
  for (const auto& example : dataset.examples) texts.push_back(example.text);
  const auto predictions = pipeline(texts);
  int64_t right = 0;
  for (size_t i = 0; i < texts.size(); ++i) right += predictions[i].front().label == dataset.examples[i].label;
  return static_cast<double>(right) / static_cast<double>(texts.size());
}

// "Trainable: 1,234 | ..." -> 1234
int64_t trainable_count(const std::string& tree) {
  std::smatch match;
  EXPECT_TRUE(std::regex_search(tree, match, std::regex("Trainable: ([0-9,]+)"))) << tree;
  std::string digits = match[1];
  digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
  return std::stoll(digits);
}

int64_t head_elements(const std::string& model_dir) {
  const auto model = Model::from_pretrained(model_dir);
  int64_t count = 0;
  for (const auto& [name, parameter] : model->named_parameters()) {
    if (name.rfind("pre_classifier.", 0) == 0 || name.rfind("classifier.", 0) == 0) count += parameter->value.numel();
  }
  return count;
}

TEST(EvaluateCli, JsonAccuracyMatchesThePipeline) {
  const TempDir dir;
  const std::string data = dir.write("sentiment.csv", kSentiment);
  const auto result = graft_cli("evaluate --model " + tiny_distilbert() + " --data " + data + " --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("confusion matrix"), std::string::npos) << result.output;
  const nlohmann::json summary = last_json_line(result.output);
  EXPECT_EQ(summary.at("examples"), 7);
  EXPECT_DOUBLE_EQ(summary.at("accuracy").get<double>(), pipeline_accuracy(tiny_distilbert(), read_dataset(data)));
  EXPECT_TRUE(summary.contains("macro_f1"));
  EXPECT_GT(summary.at("loss").get<double>(), 0.0);
  EXPECT_EQ(summary.at("report").at("labels"), nlohmann::json({"negative", "neutral", "positive"}));
}

TEST(EvaluateCli, JsonLossMatchesTheLibrary) {
  const TempDir dir;
  const std::string data = dir.write("sentiment.csv", kSentiment);
  auto model = Model::from_pretrained(tiny_distilbert());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  const LabelMap labels = LabelMap::from_id2label(model->config().id2label);
  const auto loaded =
      load_text_classification(data, {}, tokenizer, labels, 64, 3, BatchOrder::LongestFirst, 0);  // as the CLI batches
  const EvalResult expected = evaluate(*model, *loaded.source, model->task(), "", labels.names());
  const auto result = graft_cli("evaluate --model " + tiny_distilbert() + " --data " + data + " --batch-size 3 --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json summary = last_json_line(result.output);
  EXPECT_DOUBLE_EQ(summary.at("loss").get<double>(), expected.loss);
  EXPECT_DOUBLE_EQ(summary.at("macro_f1").get<double>(), expected.metric("macro_f1"));
}

TEST(EvaluateCli, UnknownLabelNamesFileAndLine) {
  const TempDir dir;
  const std::string data = dir.write("bad.csv", "text,label\ngood news,positive\nso so,meh\n");
  const auto result = graft_cli("evaluate --model " + tiny_distilbert() + " --data " + data);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("unknown label 'meh' at " + data + ":3"), std::string::npos) << result.output;
}

TEST(EvaluateCli, GoldenPhraseBankTestSet) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string data = test::shared_dir() + "/data/financial_phrasebank/test.csv";
  if (!fs::exists(data)) GTEST_SKIP() << data << " not found";
  const auto result = graft_cli("evaluate --model " + golden_checkpoint() + " --data " + data +
                                " --text-column sentence --label-column label --json" + test::device_option());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json summary = last_json_line(result.output);
  EXPECT_EQ(summary.at("examples"), 970);
  EXPECT_EQ(summary.at("report").at("confusion").size(), 3U);
}

TEST(ParamsCli, FrozenEncoderLeavesTheHeadTrainable) {
  const auto result = graft_cli("params --model " + tiny_distilbert() + " --freeze distilbert --depth 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(trainable_count(result.output), head_elements(tiny_distilbert()));
}

TEST(ParamsCli, GoldenFrozenEncoderLeavesTheHeadTrainable) {
  GRAFT_REQUIRE_GOLDEN();
  const auto result = graft_cli("params --model " + golden_checkpoint() + " --freeze distilbert");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(trainable_count(result.output), head_elements(golden_checkpoint()));
}

TEST(ParamsCli, PatternThatNamesNothingIsAnError) {
  const auto result = graft_cli("params --model " + tiny_distilbert() + " --freeze no_such_module");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output.rfind("graft: ", 0), 0U) << result.output;
}

TEST(TextDatasetSource, TokenizesPairsTruncatedAndMapsLabels) {
  const TempDir dir;
  const std::string data = dir.write("pairs.csv",
                                     "premise,hypothesis,label\n"
                                     "a very long premise with many many words in it,short,neutral\n"
                                     "good,fine,positive\n");
  ReadOptions options;
  options.text_pair_column = "hypothesis";
  options.text_column = "premise";
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  const LabelMap labels = LabelMap::from_labels({"negative", "neutral", "positive"});
  const auto loaded = load_text_classification(data, options, tokenizer, labels, 8, 2, BatchOrder::InOrder, 0);
  EXPECT_EQ(loaded.source->labels().classes, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(loaded.source->encodings().size(), 2U);
  EXPECT_EQ(loaded.source->encodings()[0].size(), 8U);
  EXPECT_EQ(loaded.source->encodings()[0].sequence_ids.back(), -1);  // [SEP] after the kept pair token
  EXPECT_EQ(loaded.dataset.examples[1].text_pair, "fine");
  EXPECT_EQ(loaded.summary.rfind("2 examples, 2 labels\n", 0), 0U);
  EXPECT_EQ(loaded.source->batches_per_epoch(), 1);
}

TEST(TextDatasetSource, LabelsForTraining) {
  TextDataset train;
  for (const char* label : {"positive", "negative", "positive"}) train.examples.push_back({"t", "", label, 2});
  ModelConfig config;
  config.id2label = {{0, "LABEL_0"}, {1, "LABEL_1"}};
  EXPECT_TRUE(needs_new_head(config, train));
  EXPECT_EQ(labels_for_training(config, train).names(), (std::vector<std::string>{"negative", "positive"}));
  config.id2label = {{0, "positive"}, {1, "negative"}};  // the same set: the trained head is kept
  EXPECT_FALSE(needs_new_head(config, train));
  EXPECT_EQ(labels_for_training(config, train).names(), (std::vector<std::string>{"positive", "negative"}));
  config.id2label = {{0, "positive"}, {1, "negative"}, {2, "neutral"}};
  EXPECT_TRUE(needs_new_head(config, train));
  EXPECT_EQ(labels_for_training(config, train).names(), (std::vector<std::string>{"negative", "positive"}));
}

}  // namespace
}  // namespace graft
