// The tokenizer on a tiny repo fixture (tests/fixtures/tokenizer: 97-token vocab.txt, lowercasing,
// model_max_length 16), hand-checked, so a clone without shared/ still tests the whole pipeline.
#include "graft/tokenizer/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Offsets = std::vector<std::pair<int64_t, int64_t>>;

std::string fixture_dir() {
  return test::fixtures_dir() + "/tokenizer";
}

const Tokenizer& fixture() {
  static const Tokenizer tokenizer = Tokenizer::from_pretrained(fixture_dir());
  return tokenizer;
}

std::string temp_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("graft_tokenizer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

TEST(Tokenizer, SpecialIdsAndSizes) {
  EXPECT_EQ(fixture().vocab_size(), 97);
  EXPECT_EQ(fixture().pad_id(), 0);
  EXPECT_EQ(fixture().unk_id(), 1);
  EXPECT_EQ(fixture().cls_id(), 2);
  EXPECT_EQ(fixture().sep_id(), 3);
  EXPECT_EQ(fixture().mask_id(), 4);
  EXPECT_EQ(fixture().model_max_length(), 16);
  EXPECT_EQ(fixture().token_to_id("##able"), 11);
  EXPECT_EQ(fixture().token_to_id("absent"), -1);
  EXPECT_EQ(fixture().id_to_token(24), "中");
  EXPECT_THAT(test::error_of([] { fixture().id_to_token(97); }), HasSubstr("outside the vocabulary"));
}

TEST(Tokenizer, PunctuationCaseAndOffsets) {
  const Encoding encoding = fixture().encode("Hello, WORLD!");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "hello", ",", "world", "!", "[SEP]"));
  EXPECT_THAT(encoding.ids, ElementsAre(2, 15, 17, 16, 18, 3));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 5}, {5, 6}, {7, 12}, {12, 13}, {0, 0}}));
  EXPECT_THAT(encoding.word_ids, ElementsAre(-1, 0, 1, 2, 3, -1));
  EXPECT_THAT(encoding.special_tokens_mask, ElementsAre(1, 0, 0, 0, 0, 1));
  EXPECT_THAT(encoding.type_ids, ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(encoding.attention_mask, ElementsAre(1, 1, 1, 1, 1, 1));
}

TEST(Tokenizer, AccentsAreStrippedAndOffsetsPointAtTheOriginal) {
  // "Café" precomposed; "nai\u0308ve" with a combining diaeresis that normalization drops.
  const Encoding encoding = fixture().encode("Caf\u00e9 NAI\u0308VE");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "cafe", "naive", "[SEP]"));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 4}, {5, 11}, {0, 0}}));
}

TEST(Tokenizer, ChineseCharactersBecomeWords) {
  const Encoding encoding = fixture().encode("a中文b");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "a", "中", "文", "b", "[SEP]"));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 4}, {0, 0}}));
  EXPECT_THAT(encoding.word_ids, ElementsAre(-1, 0, 1, 2, 3, -1));
}

TEST(Tokenizer, WordPiecesAreLongestMatchFirst) {
  const Encoding encoding = fixture().encode("playing Unaffables played dee");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "play", "##ing", "un", "##aff", "##able", "##s", "play", "##ed",
                                           "de", "##e", "[SEP]"));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0},
                                       {0, 4},
                                       {4, 7},
                                       {8, 10},
                                       {10, 13},
                                       {13, 17},
                                       {17, 18},
                                       {19, 23},
                                       {23, 25},
                                       {26, 28},
                                       {28, 29},
                                       {0, 0}}));
  EXPECT_THAT(encoding.word_ids, ElementsAre(-1, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, -1));
}

TEST(Tokenizer, UnmatchableWordIsOneUnknownToken) {
  // "playz": "play" matches but "##z" cannot, so the whole word is [UNK] (not "play [UNK]").
  const Encoding encoding = fixture().encode("zebra playz fox");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "[UNK]", "[UNK]", "fox", "[SEP]"));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 5}, {6, 11}, {12, 15}, {0, 0}}));
}

TEST(Tokenizer, WordsLongerThanMaxInputCharsAreUnknown) {
  const Encoding hundred = fixture().encode(std::string(100, 'a'));
  ASSERT_EQ(hundred.size(), 102u);
  EXPECT_EQ(hundred.tokens[1], "a");
  EXPECT_EQ(hundred.tokens[100], "##a");
  const Encoding longer = fixture().encode(std::string(101, 'a') + " a");
  EXPECT_THAT(longer.tokens, ElementsAre("[CLS]", "[UNK]", "a", "[SEP]"));
  EXPECT_EQ(longer.offsets, (Offsets{{0, 0}, {0, 101}, {102, 103}, {0, 0}}));
}

TEST(Tokenizer, ControlAndFormatCharactersAreDropped) {
  // U+200B (zero width space) and U+00AD (soft hyphen) are format characters, \x07 a control;
  // U+3000 is whitespace.
  const Encoding encoding = fixture().encode("hel\u200blo\u00ad wor\x07ld\u3000fox");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "hello", "world", "fox", "[SEP]"));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 6}, {8, 14}, {15, 18}, {0, 0}}));
}

TEST(Tokenizer, SpecialTokensInTheTextStayWhole) {
  const Encoding encoding = fixture().encode("the [MASK] fox[SEP]dog");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "the", "[MASK]", "fox", "[SEP]", "dog", "[SEP]"));
  EXPECT_THAT(encoding.ids, ElementsAre(2, 5, 4, 8, 3, 43, 3));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 3}, {4, 10}, {11, 14}, {14, 19}, {19, 22}, {0, 0}}));
  EXPECT_THAT(encoding.word_ids, ElementsAre(-1, 0, 1, 2, 3, 4, -1));
  // They are matched before lowercasing, so a lowercase "[mask]" is ordinary text.
  EXPECT_THAT(fixture().encode("[mask]").tokens, ElementsAre("[CLS]", "[", "mask", "]", "[SEP]"));
}

TEST(Tokenizer, PairHasTypeAndSequenceIds) {
  const Encoding encoding = fixture().encode_pair("the fox", "hello");
  EXPECT_THAT(encoding.tokens, ElementsAre("[CLS]", "the", "fox", "[SEP]", "hello", "[SEP]"));
  EXPECT_THAT(encoding.type_ids, ElementsAre(0, 0, 0, 0, 1, 1));
  EXPECT_THAT(encoding.sequence_ids, ElementsAre(-1, 0, 0, -1, 1, -1));
  EXPECT_THAT(encoding.word_ids, ElementsAre(-1, 0, 1, -1, 0, -1));
  EXPECT_EQ(encoding.offsets, (Offsets{{0, 0}, {0, 3}, {4, 7}, {0, 0}, {0, 5}, {0, 0}}));
}

std::vector<std::string> pair_tokens(std::string_view first, std::string_view second, int64_t max_length,
                                     Truncation truncation) {
  EncodeOptions options;
  options.max_length = max_length;
  options.truncation = truncation;
  return fixture().encode_pair(first, second, options).tokens;
}

TEST(Tokenizer, LongestFirstKeepsTheShorterSequenceWhenItFits) {
  EXPECT_THAT(pair_tokens("the quick brown fox", "hello world", 7, Truncation::LongestFirst),
              ElementsAre("[CLS]", "the", "quick", "[SEP]", "hello", "world", "[SEP]"));
  EXPECT_THAT(pair_tokens("the quick brown fox", "hello world", 6, Truncation::LongestFirst),
              ElementsAre("[CLS]", "the", "quick", "[SEP]", "hello", "[SEP]"));
}

TEST(Tokenizer, LongestFirstSplitsLikeTokenizersNotLikeTheSlowTokenizer) {
  // Equal lengths 5 + 5 into a budget of 5: tokenizers gives 2 + 3 (the slow Python loop gave 3 + 2).
  EXPECT_THAT(pair_tokens("the quick brown fox the", "hello world hello world hello", 8, Truncation::LongestFirst),
              ElementsAre("[CLS]", "the", "quick", "[SEP]", "hello", "world", "hello", "[SEP]"));
}

TEST(Tokenizer, OnlyFirstAndOnlySecond) {
  EXPECT_THAT(pair_tokens("the quick brown fox", "hello world", 8, Truncation::OnlyFirst),
              ElementsAre("[CLS]", "the", "quick", "brown", "[SEP]", "hello", "world", "[SEP]"));
  EXPECT_THAT(pair_tokens("the quick brown fox", "hello world", 8, Truncation::OnlySecond),
              ElementsAre("[CLS]", "the", "quick", "brown", "fox", "[SEP]", "hello", "[SEP]"));
  EXPECT_THAT(test::error_of([] { pair_tokens("the quick brown fox", "hello world", 5, Truncation::OnlySecond); }),
              HasSubstr("only_second cannot reach max_length"));
  EncodeOptions only_second;
  only_second.max_length = 3;
  only_second.truncation = Truncation::OnlySecond;
  EXPECT_THAT(test::error_of([&] { fixture().encode("the quick brown", only_second); }), HasSubstr("needs a pair"));
}

TEST(Tokenizer, TruncationDefaultsToModelMaxLength) {
  EncodeOptions options;
  options.truncation = Truncation::LongestFirst;
  const std::string text = "the quick brown fox the quick brown fox the quick brown fox the quick brown fox";
  const Encoding encoding = fixture().encode(text, options);
  ASSERT_EQ(encoding.size(), 16u);
  EXPECT_EQ(encoding.tokens[14], "quick");
  EXPECT_EQ(encoding.tokens[15], "[SEP]");
  // max_length alone truncates (longest_first), as transformers does.
  EncodeOptions max_length_only;
  max_length_only.max_length = 4;
  EXPECT_THAT(fixture().encode(text, max_length_only).tokens, ElementsAre("[CLS]", "the", "quick", "[SEP]"));
  max_length_only.max_length = 1;
  EXPECT_THAT(test::error_of([&] { fixture().encode(text, max_length_only); }), HasSubstr("leaves no room"));
}

TEST(Tokenizer, PaddingLongestPadsTheBatch) {
  EncodeOptions options;
  options.padding = Padding::Longest;
  const auto batch = fixture().encode_batch({"hello", "the quick brown fox"}, options);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_THAT(batch[0].ids, ElementsAre(2, 15, 3, 0, 0, 0));
  EXPECT_THAT(batch[0].attention_mask, ElementsAre(1, 1, 1, 0, 0, 0));
  EXPECT_THAT(batch[0].type_ids, ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(batch[0].special_tokens_mask, ElementsAre(1, 0, 1, 1, 1, 1));
  EXPECT_THAT(batch[0].word_ids, ElementsAre(-1, 0, -1, -1, -1, -1));
  EXPECT_EQ(batch[0].tokens[5], "[PAD]");
  EXPECT_THAT(batch[1].attention_mask, ElementsAre(1, 1, 1, 1, 1, 1));
  options.pad_to_multiple_of = 4;
  EXPECT_EQ(fixture().encode_batch({"hello", "the quick brown fox"}, options)[1].size(), 8u);
}

TEST(Tokenizer, PaddingMaxLength) {
  EncodeOptions options;
  options.padding = Padding::MaxLength;
  options.max_length = 5;
  EXPECT_THAT(fixture().encode("hello", options).ids, ElementsAre(2, 15, 3, 0, 0));
  options.pad_to_multiple_of = 4;
  EXPECT_EQ(fixture().encode("hello", options).size(), 8u);
  options.max_length.reset();
  options.pad_to_multiple_of = 0;
  EXPECT_EQ(fixture().encode("hello", options).size(), 16u);  // model_max_length
  // Padding does not truncate unless asked to.
  options.max_length = 3;
  EXPECT_EQ(fixture().encode("the quick brown fox", options).size(), 6u);
}

TEST(Tokenizer, BatchWithPairs) {
  const std::vector<std::string> pairs{"hello", "world"};
  const auto batch = fixture().encode_batch({"the", "fox"}, {}, &pairs);
  EXPECT_THAT(batch[1].ids, ElementsAre(2, 8, 3, 16, 3));
  const std::vector<std::string> too_few{"hello"};
  EXPECT_THAT(test::error_of([&] { fixture().encode_batch({"the", "fox"}, {}, &too_few); }), HasSubstr("1 pair texts"));
}

TEST(Tokenizer, WindowsOverlapByStride) {
  const auto windows = fixture().encode_windows("the quick brown fox hello world", 5, 1);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_THAT(windows[0].tokens, ElementsAre("[CLS]", "the", "quick", "brown", "[SEP]"));
  EXPECT_THAT(windows[1].tokens, ElementsAre("[CLS]", "brown", "fox", "hello", "[SEP]"));
  EXPECT_THAT(windows[2].tokens, ElementsAre("[CLS]", "hello", "world", "[SEP]"));
  EXPECT_EQ(windows[1].offsets[1], (std::pair<int64_t, int64_t>{10, 15}));
  EXPECT_EQ(windows[2].word_ids[1], 4);
  EXPECT_EQ(fixture().encode_windows("hello", 5, 1).size(), 1u);
  EXPECT_THAT(test::error_of([] { fixture().encode_windows("hello world", 5, 3); }), HasSubstr("stride 3"));
}

TEST(Tokenizer, DecodeJoinsPiecesAndCleansSpaces) {
  const Encoding encoding = fixture().encode("Hello, world! Playing unaffable?");
  EXPECT_EQ(fixture().decode(encoding.ids), "hello, world! playing unaffable?");
  EXPECT_EQ(fixture().decode(encoding.ids, false), "[CLS] hello, world! playing unaffable? [SEP]");
  EXPECT_EQ(fixture().decode({}), "");
  EXPECT_THAT(test::error_of([] { fixture().decode({5, 1000}); }), HasSubstr("token id 1000 is outside"));
}

TEST(Tokenizer, InvalidUtf8IsAnError) {
  EXPECT_THAT(test::error_of([] { fixture().encode("hello \xff world"); }),
              HasSubstr("not valid UTF-8 (bad byte 0xff at byte offset 6)"));
  EXPECT_THAT(test::error_of([] { fixture().encode("caf\xc3"); }), HasSubstr("not valid UTF-8"));
  EXPECT_THAT(test::error_of([] { fixture().encode("\xed\xa0\x80"); }), HasSubstr("not valid UTF-8"));  // a surrogate
}

TEST(Tokenizer, LoadingErrorsNameTheProblem) {
  EXPECT_THAT(test::error_of([] { Tokenizer::from_pretrained("/nonexistent/graft"); }), HasSubstr("not a directory"));
  const std::string empty = temp_dir("empty");
  EXPECT_THAT(test::error_of([&] { Tokenizer::from_pretrained(empty); }),
              HasSubstr("neither tokenizer.json nor vocab.txt found"));
  const std::string broken = temp_dir("broken");
  fs::copy_file(fixture_dir() + "/vocab.txt", broken + "/vocab.txt");
  std::ofstream(broken + "/tokenizer_config.json") << "{\"do_lower_case\": tru";
  EXPECT_THAT(test::error_of([&] { Tokenizer::from_pretrained(broken); }),
              HasSubstr("tokenizer_config.json: malformed JSON"));
  std::ofstream(broken + "/tokenizer_config.json") << "{\"unk_token\": \"[NOPE]\"}";
  EXPECT_THAT(test::error_of([&] { Tokenizer::from_pretrained(broken); }), HasSubstr("'[NOPE]' is missing"));
  std::ofstream(broken + "/tokenizer.json")
      << "{\"model\": {\"type\": \"BPE\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
  EXPECT_THAT(test::error_of([&] { Tokenizer::from_pretrained(broken); }), HasSubstr("unsupported model 'BPE'"));
  fs::remove_all(empty);
  fs::remove_all(broken);
}

// Wrong JSON types inside tokenizer.json escaped as nlohmann's type_error ("unexpected error", no file named).
TEST(Tokenizer, WrongTypesInTokenizerJsonNameTheFileAndField) {
  const std::string dir = temp_dir("types");
  fixture().save_pretrained(dir);
  const std::string file = dir + "/tokenizer.json";
  const auto good = nlohmann::json::parse(std::ifstream(file));
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json changed = good;
    changed[key] = value;
    std::ofstream(file) << changed.dump();
    return test::error_of([&] { Tokenizer::from_pretrained(dir); });
  };
  EXPECT_EQ(with("post_processor", {{"type", "BertProcessing"}, {"cls", {2, 2}}, {"sep", {"[SEP]", 3}}}),
            "[tokenizer] " + file + ": BertProcessing needs cls as [token, id], got [2,2]");
  EXPECT_EQ(
      with("post_processor", {{"type", "TemplateProcessing"}, {"single", "[CLS] $A [SEP]"}}),
      "[tokenizer] " + file + ": TemplateProcessing needs \"single\" as a list of pieces, got \"[CLS] $A [SEP]\"");
  EXPECT_EQ(with("post_processor", {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", {{"id", 5}}}}}}}),
            "[tokenizer] " + file + ": field 'id' has the wrong type");
  EXPECT_EQ(with("post_processor", 7), "[tokenizer] " + file + ": post_processor must be an object, got 7");
  EXPECT_THAT(with("model", {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", 3}}),
              HasSubstr("[tokenizer] " + file + ": field 'unk_token' has the wrong type"));
  fs::remove_all(dir);
}

// It loaded, and train and init failed only when they saved it, after the training time was spent.
TEST(Tokenizer, AVocabularyThatIsNotUtf8IsRefusedAtLoad) {
  const std::string dir = temp_dir("latin1");
  std::ofstream(dir + "/vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncaf\xe9\n";
  EXPECT_EQ(test::error_of([&] { Tokenizer::from_pretrained(dir); }),
            "[tokenizer] " + dir + "/vocab.txt: line 6 is not valid UTF-8 (at byte 3)");
  fs::remove_all(dir);
}

// Found by the tokenizer-files fuzzer: a vocab.txt that repeats a special token gave the token its first id
// as an added token and its last id in the vocabulary, and one that repeats lines many times left gaps in
// the saved tokenizer.json beyond what its reader allowed: neither saved tokenizer loaded.
TEST(Tokenizer, ARepeatedVocabularyLineKeepsItsLastIdThroughASave) {
  const std::string dir = temp_dir("repeated");
  std::ofstream(dir + "/vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n[PAD]\nthe\nthe\n";
  const Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  EXPECT_EQ(tokenizer.pad_id(), 6);
  const std::string saved = temp_dir("repeated-saved");
  tokenizer.save_pretrained(saved);
  const Tokenizer reloaded = Tokenizer::from_pretrained(saved);
  EXPECT_EQ(reloaded.pad_id(), 6);
  EXPECT_EQ(tokenizer.encode("the").ids, (std::vector<int64_t>{2, 8, 3}));
  EXPECT_EQ(reloaded.encode("the").ids, tokenizer.encode("the").ids);
  EXPECT_EQ(reloaded.vocab_size(), 9);
  fs::remove_all(dir);
  fs::remove_all(saved);
}

TEST(Tokenizer, SavePretrainedRoundTrips) {
  const std::string dir = temp_dir("saved");
  fixture().save_pretrained(dir);
  for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(dir + "/" + name)) << name;
  std::ifstream vocab(dir + "/vocab.txt");
  std::string line;
  for (int i = 0; i <= 24; ++i) std::getline(vocab, line);
  EXPECT_EQ(line, "中");
  const auto saved_json = nlohmann::json::parse(std::ifstream(dir + "/tokenizer.json"));
  EXPECT_EQ(saved_json["model"]["vocab"]["##able"], 11);
  EXPECT_EQ(saved_json["normalizer"]["lowercase"], true);
  const auto config = nlohmann::json::parse(std::ifstream(dir + "/tokenizer_config.json"));
  EXPECT_EQ(config["model_max_length"], 16);
  EXPECT_EQ(config["mask_token"], "[MASK]");

  const Tokenizer reloaded = Tokenizer::from_pretrained(dir);  // through tokenizer.json
  const std::string text = "Hello, the [MASK] Café played 中文 zebra!";
  const Encoding expected = fixture().encode_pair(text, "quick fox");
  const Encoding actual = reloaded.encode_pair(text, "quick fox");
  EXPECT_EQ(actual.ids, expected.ids);
  EXPECT_EQ(actual.offsets, expected.offsets);
  EXPECT_EQ(actual.type_ids, expected.type_ids);
  EXPECT_EQ(reloaded.model_max_length(), 16);
  fs::remove(dir + "/tokenizer.json");  // and through vocab.txt + tokenizer_config.json
  EXPECT_EQ(Tokenizer::from_pretrained(dir).encode_pair(text, "quick fox").ids, expected.ids);
  fs::remove_all(dir);
}

TEST(TokenizeCli, PrintsJsonPerInput) {
  const auto result =
      test::run_command(test::cli_path() + " tokenize --model " + fixture_dir() + " --json 'Hello, world!' 'the fox'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto newline = result.output.find('\n');
  ASSERT_NE(newline, std::string::npos);
  const auto first = nlohmann::json::parse(result.output.substr(0, newline));
  EXPECT_EQ(first["input_ids"], nlohmann::json({2, 15, 17, 16, 18, 3}));
  EXPECT_EQ(first["tokens"][1], "hello");
  EXPECT_EQ(first["offsets"][3], nlohmann::json({7, 12}));
  EXPECT_EQ(first["attention_mask"], nlohmann::json({1, 1, 1, 1, 1, 1}));
  const auto second = nlohmann::json::parse(result.output.substr(newline + 1));
  EXPECT_EQ(second["input_ids"], nlohmann::json({2, 5, 8, 3}));
}

TEST(TokenizeCli, PairsTruncationPaddingAndStdin) {
  const auto result = test::run_command(
      "printf 'the quick brown fox\\nhello\\n' | " + test::cli_path() + " tokenize --model " + fixture_dir() +
      " --pair 'hello world' --max-length 7 --truncation longest_first" + " --padding longest --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto newline = result.output.find('\n');
  const auto first = nlohmann::json::parse(result.output.substr(0, newline));
  const auto second = nlohmann::json::parse(result.output.substr(newline + 1));
  EXPECT_EQ(first["input_ids"], nlohmann::json({2, 5, 6, 3, 15, 16, 3}));
  EXPECT_EQ(first["token_type_ids"], nlohmann::json({0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(second["input_ids"], nlohmann::json({2, 15, 3, 15, 16, 3, 0}));
  EXPECT_EQ(second["attention_mask"], nlohmann::json({1, 1, 1, 1, 1, 1, 0}));
}

TEST(TokenizeCli, ReadableOutputAndErrors) {
  const auto readable = test::run_command(test::cli_path() + " tokenize --model " + fixture_dir() + " 'the fox'");
  ASSERT_EQ(readable.exit_code, 0) << readable.output;
  EXPECT_EQ(readable.output, "[CLS] the fox [SEP]\n2 5 8 3\n");
  const auto bad =
      test::run_command(test::cli_path() + " tokenize --model " + fixture_dir() + " --truncation sideways 'the fox'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("unknown --truncation 'sideways'"));
  const auto missing = test::run_command(test::cli_path() + " tokenize --model /nonexistent/dir 'x'");
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
}  // namespace graft
