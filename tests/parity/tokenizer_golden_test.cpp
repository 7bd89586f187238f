// Parity with Hugging Face BertTokenizerFast: every case of shared/golden/tokenizer_cases.json,
// loading the tokenizer both from tokenizer.json and from vocab.txt + tokenizer_config.json alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "graft/tokenizer/tokenizer.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json load_cases() {
  std::ifstream in(test::golden_dir() + "/tokenizer_cases.json");
  return json::parse(in);
}

std::vector<std::pair<int64_t, int64_t>> offsets_of(const json& value) {
  std::vector<std::pair<int64_t, int64_t>> offsets;
  for (const auto& pair : value) offsets.emplace_back(pair[0].get<int64_t>(), pair[1].get<int64_t>());
  return offsets;
}

EncodeOptions options_of(const json& golden) {
  EncodeOptions options;
  if (golden.contains("max_length") && !golden["max_length"].is_null())
    options.max_length = golden["max_length"].get<int64_t>();
  const json truncation = golden.value("truncation", json());
  if (truncation == true || truncation == "longest_first") options.truncation = Truncation::LongestFirst;
  const std::string padding = golden.value("padding", "");
  if (padding == "longest") options.padding = Padding::Longest;
  if (padding == "max_length") options.padding = Padding::MaxLength;
  return options;
}

void expect_case(const Tokenizer& tokenizer, const json& golden) {
  const EncodeOptions options = options_of(golden);
  if (golden.contains("batch")) {
    const auto texts = golden["batch"].get<std::vector<std::string>>();
    const auto encodings = tokenizer.encode_batch(texts, options);
    ASSERT_EQ(encodings.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(encodings[i].ids, golden["input_ids"][i].get<std::vector<int64_t>>()) << texts[i];
      EXPECT_EQ(encodings[i].attention_mask, golden["attention_mask"][i].get<std::vector<int64_t>>()) << texts[i];
    }
    return;
  }
  const auto text = golden["text"].get<std::string>();
  const Encoding encoding = golden.contains("text_pair")
                                ? tokenizer.encode_pair(text, golden["text_pair"].get<std::string>(), options)
                                : tokenizer.encode(text, options);
  EXPECT_EQ(encoding.ids, golden["input_ids"].get<std::vector<int64_t>>());
  if (golden.contains("tokens")) {
    EXPECT_EQ(encoding.tokens, golden["tokens"].get<std::vector<std::string>>());
  }
  if (golden.contains("offsets")) {
    EXPECT_EQ(encoding.offsets, offsets_of(golden["offsets"]));
  }
  if (golden.contains("token_type_ids")) {
    EXPECT_EQ(encoding.type_ids, golden["token_type_ids"].get<std::vector<int64_t>>());
  }
  if (golden.contains("attention_mask")) {
    EXPECT_EQ(encoding.attention_mask, golden["attention_mask"].get<std::vector<int64_t>>());
  }
}

class TokenizerGolden : public ::testing::TestWithParam<bool> {};

TEST_P(TokenizerGolden, MatchesEveryHuggingFaceCase) {
  GRAFT_REQUIRE_GOLDEN();
  const bool from_tokenizer_json = GetParam();
  std::string dir = test::golden_dir() + "/tokenizer";
  if (!from_tokenizer_json) {
    // The same tokenizer with only the transformers files, so the vocab.txt path is exercised.
    dir = (fs::temp_directory_path() / ("graft_tokenizer_vocab_only_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
    for (const char* name : {"vocab.txt", "tokenizer_config.json"})
      fs::copy_file(test::golden_dir() + "/tokenizer/" + name, dir + "/" + name, fs::copy_options::overwrite_existing);
  }
  const Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  EXPECT_EQ(tokenizer.vocab_size(), 30522);
  EXPECT_EQ(tokenizer.model_max_length(), 512);
  const json cases = load_cases();
  ASSERT_EQ(cases.size(), 59u);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i) + ": " + cases[i].dump().substr(0, 120));
    expect_case(tokenizer, cases[i]);
  }
  if (!from_tokenizer_json) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Sources, TokenizerGolden, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& source) {
                           return source.param ? "TokenizerJson" : "VocabTxt";
                         });

}  // namespace
}  // namespace graft
