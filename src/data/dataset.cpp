// read_dataset picks the reader; the line-oriented formats (PhraseBank, corpora) live here too.
#include "graft/data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "data/reader_support.h"
#include "graft/core/error.h"

namespace graft {
namespace {

using data_detail::trim;

// Calls visit(line, line_number) for every line, without its line ending.
template <typename Visit>
void for_each_line(std::string_view content, Visit&& visit) {
  int64_t line_number = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    visit(line, ++line_number);
    pos = end + 1;
  }
}

std::string first_nonblank_line(std::string_view content) {
  std::string found;
  for_each_line(content, [&](std::string_view line, int64_t) {
    if (found.empty()) found = trim(line);
  });
  return found;
}

std::string detect_format(const std::string& path, std::string_view content) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".csv") return "csv";
  if (extension == ".tsv") return "tsv";
  if (extension == ".jsonl" || extension == ".json") return "jsonl";
  if (extension == ".txt" && first_nonblank_line(content).find('@') != std::string::npos) return "phrasebank";
  throw Error("[dataset] " + path +
              ": cannot tell the format from the file name; set the format to csv, tsv, jsonl "
              "or phrasebank");
}

// The raw Financial PhraseBank files are "sentence@label" lines in Latin-1. A file that is already
// valid UTF-8 is taken as such: Latin-1 text with accents is almost never valid UTF-8.
TextDataset read_phrasebank(const std::string& path, std::string_view raw, const ReadOptions& options) {
  const std::string content = data_detail::is_valid_utf8(raw) ? std::string(raw) : data_detail::latin1_to_utf8(raw);
  TextDataset dataset;
  dataset.path = path;
  data_detail::BadRows bad_rows(dataset, options.skip_bad_rows);
  for_each_line(content, [&](std::string_view line, int64_t line_number) {
    if (trim(line).empty()) return;
    const size_t at = line.rfind('@');
    if (at == std::string_view::npos) return bad_rows.report(line_number, "expected sentence@label");
    Example example{std::string(trim(line.substr(0, at))), {}, std::string(trim(line.substr(at + 1))), line_number};
    if (example.label.empty()) return bad_rows.report(line_number, "empty label");
    dataset.examples.push_back(std::move(example));
  });
  data_detail::require_examples(dataset);
  return dataset;
}

}  // namespace

std::vector<std::string> TextDataset::labels() const {
  std::vector<std::string> all;
  all.reserve(examples.size());
  for (const auto& example : examples) all.push_back(example.label);
  return all;
}

TextDataset read_dataset(const std::string& path, const ReadOptions& options) {
  const std::string content = data_detail::read_whole_file(path, options.max_line_bytes);
  const std::string format = options.format == "auto" ? detect_format(path, content) : options.format;
  if (format == "csv") return data_detail::read_delimited(path, content, ',', options);
  if (format == "tsv") return data_detail::read_delimited(path, content, '\t', options);
  if (format == "jsonl") return data_detail::read_jsonl(path, content, options);
  if (format == "phrasebank") return read_phrasebank(path, content, options);
  throw Error("[dataset] unknown format '" + format + "'; expected auto, csv, tsv, jsonl or phrasebank");
}

std::vector<std::string> read_corpus_paragraphs(const std::string& path, int64_t max_line_bytes) {
  const std::string content = data_detail::read_whole_file(path, max_line_bytes);
  std::vector<std::string> paragraphs;
  std::string paragraph;
  const auto finish_paragraph = [&] {
    if (!paragraph.empty()) paragraphs.push_back(std::move(paragraph));
    paragraph.clear();
  };
  for_each_line(content, [&](std::string_view line, int64_t line_number) {
    check(data_detail::is_valid_utf8(line), "dataset", path + ":" + std::to_string(line_number) + ": invalid UTF-8");
    const std::string_view words = trim(line);
    if (words.empty()) return finish_paragraph();
    if (!paragraph.empty()) paragraph.push_back(' ');
    paragraph.append(words);
  });
  finish_paragraph();
  check(!paragraphs.empty(), "dataset", path + ": no text");
  return paragraphs;
}

}  // namespace graft
