// Inputs that would take memory without bound are refused with the numbers, before the memory is taken: a
// data file without line breaks, a config whose sizes the checkpoint does not hold or no machine has.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "graft/core/error.h"
#include "graft/data/dataset.h"
#include "graft/io/file.h"
#include "graft/models/config.h"
#include "graft/models/model.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

std::string shipped_model() {
  return test::fixtures_dir() + "/../../models/distilbert-mini-uncased";
}

// The shipped model's folder with config.json changed: its weights linked, not copied.
std::string with_config(const std::string& name, const std::function<void(nlohmann::json&)>& change) {
  const std::string dir = (fs::temp_directory_path() / ("graft-limits-" + name)).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::create_symlink(fs::absolute(shipped_model() + "/model.safetensors"), dir + "/model.safetensors");
  nlohmann::json config = read_json_file(shipped_model() + "/config.json");
  change(config);
  write_json_file_atomically(dir + "/config.json", config);
  return dir;
}

// /dev/zero grew memory until the process was killed.
TEST(ResourceLimits, AFileWithoutLineBreaksIsRefusedAtTheLineCap) {
  ReadOptions read;
  read.format = "csv";
  read.max_line_bytes = 1 << 20;
  EXPECT_EQ(test::error_of([&] { read_dataset("/dev/zero", read); }),
            "[dataset] /dev/zero:1: a line longer than 1048576 bytes (is this a text file? train and evaluate take "
            "--max-line-bytes for longer lines)");
  EXPECT_EQ(test::error_of([&] { read_corpus_paragraphs("/dev/zero", 4096); }),
            "[dataset] /dev/zero:1: a line longer than 4096 bytes (is this a text file? train and evaluate take "
            "--max-line-bytes for longer lines)");
  const std::string file = (fs::temp_directory_path() / "graft-limits-long-line.csv").string();
  std::ofstream(file) << "text,label\nshort,a\n" << std::string(5000, 'x') << ",b\nshort,c\n";
  read.max_line_bytes = 4096;
  EXPECT_EQ(test::error_of([&] { read_dataset(file, read); }),
            "[dataset] " + file +
                ":3: a line longer than 4096 bytes (is this a text file? train and evaluate take --max-line-bytes for "
                "longer lines)");
  read.max_line_bytes = kDefaultMaxLineBytes;
  EXPECT_EQ(read_dataset(file, read).examples.size(), 3U);
  fs::remove(file);
}

// num_labels 1e9 made a billion label names before any check ran (past a minute), 1e7 ten million (27 s).
TEST(ResourceLimits, MoreLabelsThanTheLimitAreRefusedBeforeTheNamesAreMade) {
  nlohmann::json config = read_json_file(shipped_model() + "/config.json");
  config["num_labels"] = 10000000;
  EXPECT_EQ(test::error_of([&] { ModelConfig::from_json(config, "config.json"); }),
            "[config] config.json: num_labels 10000000 is more than graft's limit of 1048576 classes");
}

// n_layers 100000 over the 4-layer checkpoint ran past a minute, a million labels over its head allocated a
// gigabyte, each before the shape error.
TEST(ResourceLimits, SizesTheCheckpointDoesNotHoldAreRefusedBeforeAllocating) {
  const std::string deep = with_config("deep", [](nlohmann::json& config) { config["n_layers"] = 100000; });
  EXPECT_EQ(test::error_of([&] { Model::from_pretrained(deep); }),
            "[model] " + deep +
                ": config.json's sizes imply an encoder of 78983945216 weights, but the checkpoint holds 11201082 in "
                "all: do config.json and the weights belong together?");
  const std::string wide = with_config("wide", [](nlohmann::json& config) {
    config["architectures"] = {"DistilBertForSequenceClassification"};
    config["num_labels"] = 1000000;
  });
  EXPECT_EQ(test::error_of([&] { Model::from_pretrained(wide); }),
            "[model] " + wide +
                ": config.json's sizes imply a head of up to 257065792 weights (num_labels 1000000), but the "
                "checkpoint holds 96826 beyond the encoder: does num_labels match the weights?");
  fs::remove_all(deep);
  fs::remove_all(wide);
}

// A head of another task is made afresh, as transformers does, whatever its size next to the checkpoint's
// head: a 9-label tagger's checkpoint pretrained further as a masked LM (whose head is 40 times larger) was
// refused.
TEST(ResourceLimits, AHeadOfAnotherTaskIsNotComparedWithTheCheckpointsHead) {
  LoadOptions as_tagger;
  as_tagger.task = TaskHead::TokenClassification;
  as_tagger.labels = std::vector<std::string>{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-X", "I-X"};
  const std::string tagger = (fs::temp_directory_path() / "graft-limits-tagger").string();
  fs::remove_all(tagger);
  Model::from_pretrained(shipped_model(), as_tagger)->save_pretrained(tagger);
  LoadOptions as_masked_lm;
  as_masked_lm.task = TaskHead::MaskedLM;
  EXPECT_EQ(Model::from_pretrained(tagger, as_masked_lm)->task(), TaskHead::MaskedLM);
  fs::remove_all(tagger);
}

// graft init has no checkpoint to compare with: the machine's memory is the bound.
TEST(ResourceLimits, AModelNoMemoryHoldsIsRefusedBeforeAllocating) {
  ModelConfig config = ModelConfig::from_file(shipped_model() + "/config.json");
  config.num_hidden_layers = 10000000;
  const std::string message = test::error_of([&] { Model::from_config(config, TaskHead::MaskedLM, 1); });
  EXPECT_EQ(message.rfind("[model] config.json's sizes imply up to ", 0), 0U) << message;
  EXPECT_NE(message.find(" of memory available"), std::string::npos) << message;
}

}  // namespace
}  // namespace graft
