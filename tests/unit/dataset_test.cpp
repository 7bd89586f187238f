#include "graft/data/dataset.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

std::string fixture(const std::string& name) {
  return test::fixtures_dir() + "/data/" + name;
}

// Writes bytes to a fresh file in a per-test temporary folder and returns its path.
std::string write_temp(const std::string& name, const std::string& bytes) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto folder = std::filesystem::temp_directory_path() / ("graft_dataset_test_" + std::string(info->name()));
  std::filesystem::create_directories(folder);
  auto path = (folder / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The message of the graft::Error that `read` throws, or "" when it throws nothing.
template <typename Read>
std::string error_of(Read&& read) {
  try {
    read();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::map<std::string, int> label_counts(const TextDataset& dataset) {
  std::map<std::string, int> counts;
  for (const auto& example : dataset.examples) ++counts[example.label];
  return counts;
}

std::string shared_data(const std::string& relative) {
  return test::shared_dir() + "/data/" + relative;
}

#define REQUIRE_SHARED_DATA(relative)                                                          \
  do {                                                                                         \
    if (!std::filesystem::exists(shared_data(relative)))                                       \
      GTEST_SKIP() << shared_data(relative) << " not found (shared datasets are not present)"; \
  } while (0)

TEST(ReadDataset, QuotedCsvWithCommasQuotesNewlinesAndCrlf) {
  const TextDataset dataset = read_dataset(fixture("quoted.csv"));
  ASSERT_EQ(dataset.examples.size(), 4u);
  EXPECT_EQ(dataset.examples[0].text, "Profit rose 5 %, beating forecasts.");
  EXPECT_EQ(dataset.examples[0].label, "positive");
  EXPECT_EQ(dataset.examples[0].line, 2);
  EXPECT_EQ(dataset.examples[1].text, "The CEO said \"we failed\" on Monday.");
  EXPECT_EQ(dataset.examples[2].text, "Line one\r\nline two, still the same row");
  EXPECT_EQ(dataset.examples[2].label, "neutral");
  EXPECT_EQ(dataset.examples[2].line, 4);
  EXPECT_EQ(dataset.examples[3].text, "Plain row without quotes");
  EXPECT_EQ(dataset.examples[3].line, 6);
  EXPECT_EQ(dataset.examples[3].text_pair, "");
  EXPECT_EQ(dataset.skipped_rows, 0);
}

TEST(ReadDataset, TsvWithoutHeaderAcceptsPandasQuoting) {
  const TextDataset dataset = read_dataset(fixture("ag_style.tsv"));
  ASSERT_EQ(dataset.examples.size(), 4u);
  EXPECT_EQ(dataset.examples[0].text, "Kimberly-Clark said \"major\" gains");
  EXPECT_EQ(dataset.examples[0].label, "Business");
  EXPECT_EQ(dataset.examples[1].text, "Spurs win 3-1 in London, again");
  EXPECT_EQ(dataset.examples[2].text, "He said \"no\"\n");
  EXPECT_EQ(dataset.examples[2].line, 3);
  EXPECT_EQ(dataset.examples[3].text, "An \"unbalanced quote");
  EXPECT_EQ(dataset.examples[3].label, "Sci/Tech");
  EXPECT_EQ(dataset.examples[3].line, 5);
}

TEST(ReadDataset, GlueTsvHeaderAndLiteralQuotes) {
  const TextDataset dataset = read_dataset(fixture("glue.tsv"));
  ASSERT_EQ(dataset.examples.size(), 3u);
  EXPECT_EQ(dataset.examples[0].text, "it is a charming journey ");
  EXPECT_EQ(dataset.examples[0].label, "1");
  EXPECT_EQ(dataset.examples[1].text, "\"quoted\" start but literal tail");
  EXPECT_EQ(dataset.examples[2].text, "the worst film");
  EXPECT_EQ(dataset.examples[2].line, 5);
}

TEST(ReadDataset, HeaderDetectionTellsDataFromNames) {
  const TextDataset data = read_dataset(write_temp("short.csv", "good,positive\nbad,negative\nfine,positive\n"));
  EXPECT_EQ(data.examples.size(), 3u);
  const TextDataset named = read_dataset(write_temp("named.csv", "text,label\ngood,positive\n"));
  ASSERT_EQ(named.examples.size(), 1u);
  EXPECT_EQ(named.examples[0].text, "good");
  ReadOptions no_header;
  no_header.header = false;
  EXPECT_EQ(read_dataset(write_temp("forced.csv", "text,label\ngood,positive\n"), no_header).examples.size(), 2u);
}

TEST(ReadDataset, ColumnsByNameAndIndexWithTextPair) {
  ReadOptions options;
  options.text_column = "premise";
  options.text_pair_column = "hypothesis";
  const TextDataset by_name = read_dataset(fixture("pairs.csv"), options);
  ASSERT_EQ(by_name.examples.size(), 2u);
  EXPECT_EQ(by_name.examples[0].text, "A man plays guitar.");
  EXPECT_EQ(by_name.examples[0].text_pair, "A person makes music.");
  EXPECT_EQ(by_name.examples[1].label, "contradiction");

  ReadOptions by_index;
  by_index.text_column = "1";
  by_index.label_column = "2";
  const TextDataset indexed = read_dataset(fixture("pairs.csv"), by_index);
  EXPECT_EQ(indexed.examples[0].text, "A person makes music.");
  EXPECT_EQ(indexed.examples[0].text_pair, "");
  EXPECT_EQ(indexed.examples[0].label, "entailment");

  ReadOptions missing;
  missing.text_column = "sentence1";
  EXPECT_EQ(
      error_of([&] { read_dataset(fixture("pairs.csv"), missing); }),
      "[dataset] " + fixture("pairs.csv") + ": text_column 'sentence1' not found; columns: premise, hypothesis, label");
  ReadOptions out_of_range;
  out_of_range.label_column = "7";
  EXPECT_EQ(error_of([&] { read_dataset(fixture("pairs.csv"), out_of_range); }),
            "[dataset] " + fixture("pairs.csv") + ": label_column 7 is out of range (the file has 3 columns)");
}

TEST(ReadDataset, JsonLinesWithStringAndNumberLabels) {
  const TextDataset dataset = read_dataset(fixture("messages.jsonl"));
  ASSERT_EQ(dataset.examples.size(), 3u);
  EXPECT_EQ(dataset.examples[0].text, "Win a free prize now");
  EXPECT_EQ(dataset.examples[0].label, "spam");
  EXPECT_EQ(dataset.examples[1].line, 3);
  EXPECT_EQ(dataset.examples[2].text, "numeric label \xC3\xA9t\xC3\xA9");
  EXPECT_EQ(dataset.examples[2].label, "1");

  ReadOptions by_field;
  by_field.text_column = "id";
  EXPECT_EQ(
      error_of([&] { read_dataset(fixture("messages.jsonl"), by_field); }),
      "[dataset] " + fixture("messages.jsonl") + ":4: missing field \"id\" (pass skip_bad_rows to skip such rows)");
}

TEST(ReadDataset, BadJsonLineIsReportedOrSkipped) {
  const std::string path = write_temp("bad.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"cut\n");
  const std::string message = error_of([&] { read_dataset(path); });
  EXPECT_EQ(message.rfind("[dataset] " + path + ":2: invalid JSON ([json.exception.parse_error.101] parse error", 0),
            0U)
      << message;
  EXPECT_TRUE(message.ends_with(") (pass skip_bad_rows to skip such rows)")) << message;
  ReadOptions skip;
  skip.skip_bad_rows = true;
  const TextDataset dataset = read_dataset(path, skip);
  EXPECT_EQ(dataset.examples.size(), 1u);
  EXPECT_EQ(dataset.skipped_rows, 1);
  EXPECT_EQ(dataset.first_skipped_reason.rfind(path + ":2: invalid JSON (", 0), 0U);
  // A row that gives its label twice took the last one silently.
  const std::string twice = write_temp("twice.jsonl", "{\"text\": \"ok\", \"label\": \"a\", \"label\": \"b\"}\n");
  EXPECT_EQ(error_of([&] { read_dataset(twice); }),
            "[dataset] " + twice +
                ":1: invalid JSON (key \"label\" appears twice in one object) (pass skip_bad_rows to skip such rows)");
}

TEST(ReadDataset, PhrasebankLatin1IsConvertedToUtf8) {
  const std::string path =
      write_temp("Sentences_50Agree.txt",
                 "Caf\xE9 chain Sepp\xE4l\xE4 reports profit @positive\r\nPrice is 5 EUR @ unit@neutral\r\n");
  const TextDataset dataset = read_dataset(path);
  ASSERT_EQ(dataset.examples.size(), 2u);
  EXPECT_EQ(dataset.examples[0].text, "Caf\xC3\xA9 chain Sepp\xC3\xA4l\xC3\xA4 reports profit");
  EXPECT_EQ(dataset.examples[0].label, "positive");
  EXPECT_EQ(dataset.examples[1].text, "Price is 5 EUR @ unit");
  EXPECT_EQ(dataset.examples[1].label, "neutral");
  EXPECT_EQ(dataset.examples[1].line, 2);
}

TEST(ReadDataset, PhrasebankLineWithoutLabel) {
  const std::string path = write_temp("raw.txt", "Good news@positive\nno separator here\n");
  ReadOptions phrasebank;
  phrasebank.format = "phrasebank";
  EXPECT_EQ(error_of([&] { read_dataset(path, phrasebank); }),
            "[dataset] " + path + ":2: expected sentence@label (pass skip_bad_rows to skip such rows)");
}

TEST(ReadDataset, WrongFieldCountNamesFileAndLine) {
  const std::string path = write_temp("bad.csv", "text,label\ngood,positive\ntoo,many,fields\nbad,negative\n");
  EXPECT_EQ(error_of([&] { read_dataset(path); }),
            "[dataset] " + path + ":3: expected 2 fields, found 3 (pass skip_bad_rows to skip such rows)");
  ReadOptions skip;
  skip.skip_bad_rows = true;
  const TextDataset dataset = read_dataset(path, skip);
  ASSERT_EQ(dataset.examples.size(), 2u);
  EXPECT_EQ(dataset.examples[1].text, "bad");
  EXPECT_EQ(dataset.skipped_rows, 1);
}

TEST(ReadDataset, CsvQuoteErrorsCostOneRow) {
  const std::string path = write_temp("quotes.csv", "text,label\n\"closed\"junk,a\n\"never closed,b\nfine,c\n");
  EXPECT_EQ(error_of([&] { read_dataset(path); }),
            "[dataset] " + path + ":2: unexpected 'j' after a closing quote (pass skip_bad_rows to skip such rows)");
  ReadOptions skip;
  skip.skip_bad_rows = true;
  const TextDataset dataset = read_dataset(path, skip);
  ASSERT_EQ(dataset.examples.size(), 1u);
  EXPECT_EQ(dataset.examples[0].text, "fine");
  EXPECT_EQ(dataset.examples[0].line, 4);
  EXPECT_EQ(dataset.skipped_rows, 2);
}

TEST(ReadDataset, EmptyLabelAtEndOfFile) {
  const std::string path = write_temp("cut.csv", "text,label\ngood,positive\nbad,");
  EXPECT_EQ(error_of([&] { read_dataset(path); }),
            "[dataset] " + path + ":3: empty label (pass skip_bad_rows to skip such rows)");
}

TEST(ReadDataset, InvalidUtf8InCsvRow) {
  const std::string path = write_temp("latin1.csv", "text,label\nfine,a\ncaf\xE9,b\n");
  EXPECT_EQ(error_of([&] { read_dataset(path); }),
            "[dataset] " + path + ":3: invalid UTF-8 (pass skip_bad_rows to skip such rows)");
}

TEST(ReadDataset, EmptyAndMissingFiles) {
  const std::string empty = write_temp("empty.csv", "");
  EXPECT_EQ(error_of([&] { read_dataset(empty); }), "[dataset] " + empty + ": no examples (the file is empty)");
  const std::string header_only = write_temp("header.tsv", "sentence\tlabel\n");
  EXPECT_EQ(error_of([&] { read_dataset(header_only); }), "[dataset] " + header_only + ": no examples");
  const std::string blank_jsonl = write_temp("blank.jsonl", "\n\n");
  EXPECT_EQ(error_of([&] { read_dataset(blank_jsonl); }), "[dataset] " + blank_jsonl + ": no examples");
  EXPECT_EQ(error_of([] { read_dataset("/nonexistent/train.csv"); }),
            "[dataset] /nonexistent/train.csv: cannot open file");
}

TEST(ReadDataset, AllRowsSkippedIsStillAnError) {
  const std::string path = write_temp("all_bad.csv", "text,label\na,b,c\nd,e,f\n");
  ReadOptions skip;
  skip.skip_bad_rows = true;
  EXPECT_EQ(
      error_of([&] { read_dataset(path, skip); }),
      "[dataset] " + path + ": no examples (2 bad rows skipped; first: " + path + ":2: expected 2 fields, found 3)");
}

TEST(ReadDataset, FormatComesFromExtensionOrOption) {
  const std::string path = write_temp("data.dat", "great film!,positive\n");
  EXPECT_EQ(error_of([&] { read_dataset(path); }),
            "[dataset] " + path +
                ": cannot tell the format from the file name; set the format to csv, tsv, jsonl or "
                "phrasebank");
  ReadOptions csv;
  csv.format = "csv";
  EXPECT_EQ(read_dataset(path, csv).examples.size(), 1u);
  ReadOptions unknown;
  unknown.format = "parquet";
  EXPECT_EQ(error_of([&] { read_dataset(path, unknown); }),
            "[dataset] unknown format 'parquet'; expected auto, csv, tsv, jsonl or phrasebank");
}

TEST(LabelMap, SortsNamesAndNumbers) {
  const LabelMap words = LabelMap::from_labels({"positive", "negative", "neutral", "negative"});
  EXPECT_EQ(words.names(), (std::vector<std::string>{"negative", "neutral", "positive"}));
  EXPECT_EQ(words.id("neutral", "x:1"), 1);
  EXPECT_EQ(words.name(2), "positive");
  const LabelMap numbers = LabelMap::from_labels({"10", "2", "1", "2"});
  EXPECT_EQ(numbers.names(), (std::vector<std::string>{"1", "2", "10"}));
  EXPECT_EQ(numbers.size(), 3u);
}

TEST(LabelMap, UnknownLabelNamesPlaceAndKnownLabels) {
  const LabelMap labels = LabelMap::from_labels({"b", "a", "c"});
  EXPECT_EQ(error_of([&] { labels.id("x", "train.csv:12"); }),
            "[dataset] unknown label 'x' at train.csv:12; known labels: a, b, c");
  EXPECT_EQ(error_of([&] { labels.name(3); }), "[labels] class id 3 is out of range (3 labels)");
}

TEST(LabelMap, FromId2Label) {
  const LabelMap labels = LabelMap::from_id2label({{1, "POSITIVE"}, {0, "NEGATIVE"}});
  EXPECT_EQ(labels.names(), (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_EQ(error_of([] {
              LabelMap::from_id2label({{0, "a"}, {2, "b"}});
            }),
            "[labels] id2label ids must be 0..1, found 2");
  EXPECT_EQ(error_of([] { LabelMap::from_id2label({{0, "a"}, {1, "a"}}); }), "[labels] label 'a' appears twice");
}

TextDataset synthetic(const std::map<std::string, int>& counts) {
  TextDataset dataset;
  int64_t line = 1;
  for (const auto& [label, count] : counts)
    for (int i = 0; i < count; ++i) dataset.examples.push_back({label + std::to_string(i), "", label, line++});
  return dataset;
}

TEST(StratifiedSplit, KeepsProportionsPerLabel) {
  const TextDataset dataset = synthetic({{"a", 100}, {"b", 30}, {"c", 3}, {"d", 1}});
  const auto [train, validation] = stratified_split(dataset, 0.2, 7);
  EXPECT_EQ(label_counts(validation), (std::map<std::string, int>{{"a", 20}, {"b", 6}, {"c", 1}}));
  EXPECT_EQ(label_counts(train), (std::map<std::string, int>{{"a", 80}, {"b", 24}, {"c", 2}, {"d", 1}}));
  std::set<int64_t> lines;
  for (const auto* part : {&train, &validation})
    for (const auto& example : part->examples) lines.insert(example.line);
  EXPECT_EQ(lines.size(), dataset.examples.size());
  EXPECT_TRUE(std::is_sorted(train.examples.begin(), train.examples.end(),
                             [](const Example& x, const Example& y) { return x.line < y.line; }));
}

TEST(StratifiedSplit, DeterministicForASeed) {
  const TextDataset dataset = synthetic({{"a", 50}, {"b", 50}});
  const auto lines_of = [](const TextDataset& part) {
    std::vector<int64_t> lines;
    for (const auto& example : part.examples) lines.push_back(example.line);
    return lines;
  };
  const auto first = stratified_split(dataset, 0.1, 42);
  const auto again = stratified_split(dataset, 0.1, 42);
  const auto other = stratified_split(dataset, 0.1, 43);
  EXPECT_EQ(lines_of(first.second), lines_of(again.second));
  EXPECT_NE(lines_of(first.second), lines_of(other.second));
  EXPECT_EQ(error_of([&] { stratified_split(dataset, 1.0, 1); }),
            "[dataset] validation fraction must be between 0 and 1, got 1.000000");
}

TEST(Summarize, CountsAndPercentages) {
  const TextDataset dataset = synthetic({{"negative", 1}, {"positive", 3}});
  EXPECT_EQ(summarize(dataset),
            "4 examples, 2 labels\n"
            "  negative        1   25.0%\n"
            "  positive        3   75.0%\n");
}

TEST(ReadCorpus, ParagraphsSeparatedByBlankLines) {
  EXPECT_EQ(read_corpus_paragraphs(fixture("corpus.txt")),
            (std::vector<std::string>{"CHAPTER 1.", "Call me Ishmael. Some years ago, never mind how long.",
                                      "There now is your insular city."}));
  const std::string blank = write_temp("blank.txt", "\n  \n");
  EXPECT_EQ(error_of([&] { read_corpus_paragraphs(blank); }), "[dataset] " + blank + ": no text");
}

TEST(SharedData, FinancialPhrasebankTrain) {
  REQUIRE_SHARED_DATA("financial_phrasebank/train.csv");
  const TextDataset dataset = read_dataset(shared_data("financial_phrasebank/train.csv"));
  EXPECT_EQ(dataset.examples.size(), 3876u);
  EXPECT_EQ(LabelMap::from_labels(dataset.labels()).names(),
            (std::vector<std::string>{"negative", "neutral", "positive"}));
  std::cout << summarize(dataset);
}

TEST(SharedData, Sst2TrainLoadsQuickly) {
  REQUIRE_SHARED_DATA("sst2/train.tsv");
  const auto start = std::chrono::steady_clock::now();
  const TextDataset dataset = read_dataset(shared_data("sst2/train.tsv"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "sst2/train.tsv: " << dataset.examples.size() << " rows in " << seconds * 1000 << " ms\n";
  EXPECT_EQ(dataset.examples.size(), 60614u);
  EXPECT_EQ(label_counts(dataset), (std::map<std::string, int>{{"0", 26786}, {"1", 33828}}));
  EXPECT_LT(seconds, 1.0);
}

TEST(SharedData, AgNewsDevWithoutHeader) {
  REQUIRE_SHARED_DATA("ag_news/dev.tsv");
  const TextDataset dataset = read_dataset(shared_data("ag_news/dev.tsv"));
  // The README says 10,000 rows; the file holds 10,001 (2,496 + 2,538 + 2,458 + 2,509).
  EXPECT_EQ(dataset.examples.size(), 10001u);
  EXPECT_EQ(label_counts(dataset),
            (std::map<std::string, int>{{"Business", 2496}, {"Sci/Tech", 2538}, {"Sports", 2458}, {"World", 2509}}));
  EXPECT_EQ(dataset.examples[0].line, 1);
}

TEST(SharedData, SpamAssassinJsonLines) {
  REQUIRE_SHARED_DATA("spamassassin/spamassassin.jsonl");
  const TextDataset dataset = read_dataset(shared_data("spamassassin/spamassassin.jsonl"));
  EXPECT_EQ(dataset.examples.size(), 6046u);
  EXPECT_EQ(label_counts(dataset), (std::map<std::string, int>{{"ham", 4150}, {"spam", 1896}}));
}

TEST(SharedData, CorpusParagraphs) {
  REQUIRE_SHARED_DATA("corpus/moby_dick.txt");
  const auto paragraphs = read_corpus_paragraphs(shared_data("corpus/moby_dick.txt"));
  ASSERT_GT(paragraphs.size(), 100u);
  EXPECT_EQ(paragraphs[0], "CHAPTER 1. Loomings.");
  EXPECT_TRUE(paragraphs[1].starts_with("Call me Ishmael."));
}

}  // namespace
}  // namespace graft
