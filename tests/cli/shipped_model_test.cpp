// The pretrained default that ships in models/: its config, fp16 weights, tokenizer and card, and that the
// card's fill-mask table is what the shipped weights predict.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "graft/pipelines/fill_mask.h"
#include "test_support.h"

namespace graft {
namespace {

std::string shipped_model() {
  return test::fixtures_dir() + "/../../models/distilbert-mini-uncased";
}

struct CardRow {
  std::string text;
  std::string top_token;
  float top_score = 0.0F;
};

// "| the whale swam in the [MASK]. | sea (0.412), ... |" rows of the card's tables.
std::vector<CardRow> fill_mask_rows(const std::string& card) {
  std::vector<CardRow> rows;
  std::istringstream lines(card);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0 || line.find("[MASK]") == std::string::npos) continue;
    const auto middle = line.find(" | ", 2);
    CardRow row;
    row.text = line.substr(2, middle - 2);
    const std::string fills = line.substr(middle + 3);
    const auto open = fills.find(" (");
    row.top_token = fills.substr(0, open);
    row.top_score = std::stof(fills.substr(open + 2));
    rows.push_back(row);
  }
  return rows;
}

TEST(ShippedModel, IsAMiniDistilBertForMaskedLMInHalfPrecision) {
  const auto config = read_json_file(shipped_model() + "/config.json");
  EXPECT_EQ(config.at("architectures").at(0), "DistilBertForMaskedLM");
  EXPECT_EQ(config.at("dim"), 256);
  EXPECT_EQ(config.at("n_layers"), 4);
  EXPECT_EQ(config.at("n_heads"), 4);
  EXPECT_EQ(config.at("hidden_dim"), 1024);
  EXPECT_EQ(config.at("vocab_size"), 30522);
  EXPECT_EQ(config.at("dtype"), "float16");
  const Checkpoint weights = Checkpoint::open(shipped_model());
  for (const auto& name : weights.names()) EXPECT_EQ(weights.info(name).dtype, DType::F16) << name;
  EXPECT_EQ(Tokenizer::from_pretrained(shipped_model()).vocab_size(), 30522);
}

TEST(ShippedModel, CardStatesDataTrainingResultsAndBias) {
  const std::string card = read_file(shipped_model() + "/README.md");
  for (const char* part :
       {"pipeline_tag: fill-mask", "moby_dick.txt", "sotu.txt", "## Training procedure", "### Loss curve",
        "## Evaluation results", "perplexity", "## Fill-mask examples", "## Limitations and bias",
        "| the man worked as a [MASK]. |", "| the woman worked as a [MASK]. |"}) {
    EXPECT_NE(card.find(part), std::string::npos) << part;
  }
  const auto state = read_json_file(shipped_model() + "/trainer_state.json");
  // Early in pretraining a model predicts word frequencies only: perplexity ~600 and ~13% of the masked
  // tokens right (after 200 steps of this run). The shipped model must have got past that.
  EXPECT_LT(state.at("eval").at("perplexity").get<double>(), 450.0);
  EXPECT_GT(state.at("eval").at("masked_accuracy").get<double>(), 0.15);
}

// The card's fill-mask tables were made with the weights as shipped (rounded to fp16): the pipeline
// must give the same best fill, with its probability to 0.01 (the card prints three decimals).
TEST(ShippedModel, PredictsWhatItsCardShows) {
  const auto rows = fill_mask_rows(read_file(shipped_model() + "/README.md"));
  ASSERT_GE(rows.size(), 8U);
  FillMaskOptions options;
  options.top_k = 1;
  auto fill = FillMaskPipeline::from_pretrained(shipped_model(), options);
  std::vector<std::string> texts;
  for (const auto& row : rows) texts.push_back(row.text);
  const auto results = fill(texts);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(results[i][0][0].token_str, rows[i].top_token) << rows[i].text;
    EXPECT_NEAR(results[i][0][0].score, rows[i].top_score, 0.01) << rows[i].text;
  }
}

}  // namespace
}  // namespace graft
