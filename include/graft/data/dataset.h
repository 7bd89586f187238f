#pragma once
// Labelled text datasets read from the files people actually have: CSV (RFC 4180), GLUE-style TSV,
// JSON lines and the raw Financial PhraseBank format; plus unlabelled corpora for masked-LM
// pretraining. Every failure names FILE:LINE so that a bad row in a 60k-row file can be found.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace graft {

struct Example {
  std::string text;
  std::string text_pair;  // empty when the dataset has no second text column
  std::string label;      // as written in the file; LabelMap turns it into a class id
  int64_t line = 0;       // 1-based line of the file where the row starts
};

struct TextDataset {
  std::vector<Example> examples;
  std::string path;
  int64_t skipped_rows = 0;          // bad rows dropped because ReadOptions::skip_bad_rows was set
  std::string first_skipped_reason;  // "FILE:LINE: why", empty when nothing was skipped
  std::vector<std::string> header;   // a CSV/TSV first row read as column names; empty when there was none

  std::vector<std::string> labels() const;  // one per example, in order
};

// The longest line a data file or corpus may hold: a file without line breaks is refused once this much of
// it is read, not read until memory runs out.
inline constexpr int64_t kDefaultMaxLineBytes = 16 << 20;

struct ReadOptions {
  // csv | tsv | jsonl | phrasebank | auto (by extension: .csv, .tsv, .jsonl/.json, and .txt whose
  // first line holds '@' for the raw PhraseBank format).
  std::string format = "auto";
  // nullopt: a first row made only of column-like names that are not also label values is a header.
  std::optional<bool> header;
  // Columns are given by header name or 0-based index. Defaults: text is "sentence" or "text", else
  // the first column that is neither label nor pair; label is "label", else the last column.
  std::string text_column;
  std::string text_pair_column;  // empty: single-text dataset
  std::string label_column;
  bool skip_bad_rows = false;  // count bad rows in TextDataset::skipped_rows instead of throwing
  int64_t max_line_bytes = kDefaultMaxLineBytes;
};

TextDataset read_dataset(const std::string& path, const ReadOptions& options = {});

// Paragraphs of a plain-text corpus: separated by blank lines, their lines joined by single spaces.
std::vector<std::string> read_corpus_paragraphs(const std::string& path, int64_t max_line_bytes = kDefaultMaxLineBytes);

// The bijection between label strings and class ids 0..size()-1.
class LabelMap {
 public:
  // Sorted and de-duplicated; labels that are all numbers sort numerically ("2" before "10").
  static LabelMap from_labels(const std::vector<std::string>& labels_in_dataset);
  // A model's config.json id2label; ids must be exactly 0..n-1.
  static LabelMap from_id2label(const std::map<int64_t, std::string>& id2label);

  // Throws "unknown label 'x' at WHERE; known labels: a, b, c"; `where` is usually FILE:LINE.
  int64_t id(const std::string& label, const std::string& where) const;
  const std::string& name(int64_t id) const;
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }

 private:
  explicit LabelMap(std::vector<std::string> names);
  std::vector<std::string> names_;
  std::map<std::string, int64_t, std::less<>> ids_;
};

// (train, validation): each label contributes round(count * validation_fraction) examples to
// validation, at least one and never all when it has two or more. Rows keep their file order;
// the same seed gives the same split on every platform.
std::pair<TextDataset, TextDataset> stratified_split(const TextDataset& dataset, double validation_fraction,
                                                     uint64_t seed);

// "3876 examples, 3 labels" followed by one line per label with its count and percentage.
std::string summarize(const TextDataset& dataset);

}  // namespace graft
