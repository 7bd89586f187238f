// CSV per RFC 4180 and TSV, both split in one pass over the file into views of its bytes.
// TSV follows GLUE (fields are literal) but also accepts the quoting pandas writes; a quote that
// does not close a well-formed quoted field is taken literally there, while CSV reports it.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <span>

#include "data/reader_support.h"
#include "graft/core/error.h"

namespace graft::data_detail {
namespace {

struct RawField {
  std::string_view text;  // inside the quotes for a quoted field, "" still doubled
  bool quoted = false;
};

struct RawRecord {
  int64_t line = 0;
  size_t first_field = 0;
  size_t field_count = 0;
  std::string error;  // non-empty: the record could not be split
};

std::string decode(const RawField& field) {
  if (!field.quoted) return std::string(field.text);
  std::string text;
  text.reserve(field.text.size());
  for (size_t i = 0; i < field.text.size(); ++i) {
    text.push_back(field.text[i]);
    if (field.text[i] == '"') ++i;  // the second quote of a doubled pair
  }
  return text;
}

class RecordSplitter {
 public:
  RecordSplitter(std::string_view content, char delimiter)
      : content_(content), delimiter_(delimiter), quotes_are_strict_(delimiter == ',') {}

  std::vector<RawRecord> split_all(std::vector<RawField>& fields) {
    std::vector<RawRecord> records;
    while (skip_blank_lines()) records.push_back(split_record(fields));
    return records;
  }

 private:
  bool at_end() const { return pos_ >= content_.size(); }
  bool at_line_end() const {
    return at_end() || content_[pos_] == '\n' ||
           (content_[pos_] == '\r' && (pos_ + 1 == content_.size() || content_[pos_ + 1] == '\n'));
  }
  void consume_line_end() {
    if (at_end()) return;
    if (content_[pos_] == '\r') ++pos_;
    ++pos_;  // '\n'
    ++line_;
  }

  bool skip_blank_lines() {
    while (!at_end() && at_line_end()) consume_line_end();
    return !at_end();
  }

  RawRecord split_record(std::vector<RawField>& fields) {
    RawRecord record{line_, fields.size(), 0, {}};
    const size_t record_start = pos_;
    while (true) {
      std::string error;
      const bool quoted = !at_end() && content_[pos_] == '"';
      const bool ok = quoted ? split_quoted(fields, error) : split_plain(fields);
      if (!ok) {
        record.error = error;
        fields.resize(record.first_field);
        resume_after_line(record_start, record.line);
        return record;
      }
      ++record.field_count;
      if (at_line_end()) {
        consume_line_end();
        return record;
      }
      ++pos_;  // the delimiter
    }
  }

  bool split_plain(std::vector<RawField>& fields) {
    const size_t start = pos_;
    while (!at_line_end() && content_[pos_] != delimiter_) ++pos_;
    fields.push_back({content_.substr(start, pos_ - start), false});
    return true;
  }

  bool split_quoted(std::vector<RawField>& fields, std::string& error) {
    const size_t start = pos_;
    const int64_t start_line = line_;
    size_t scan = pos_ + 1;
    int64_t newlines = 0;
    while (true) {
      const size_t quote = content_.find('"', scan);
      if (quote == std::string_view::npos) {
        error = "unterminated quoted field";
        break;
      }
      if (quote + 1 < content_.size() && content_[quote + 1] == '"') {
        scan = quote + 2;
        continue;
      }
      newlines += std::count(content_.begin() + static_cast<std::ptrdiff_t>(pos_),
                             content_.begin() + static_cast<std::ptrdiff_t>(quote), '\n');
      pos_ = quote + 1;
      line_ = start_line + newlines;
      if (at_line_end() || content_[pos_] == delimiter_) {
        fields.push_back({content_.substr(start + 1, quote - start - 1), true});
        return true;
      }
      error = std::string("unexpected '") + content_[pos_] + "' after a closing quote";
      break;
    }
    if (quotes_are_strict_) return false;
    pos_ = start;
    line_ = start_line;
    return split_plain(fields);
  }

  // After a record that cannot be split, carry on at the next line after where it began, so one
  // stray quote costs one row rather than the rest of the file.
  void resume_after_line(size_t record_start, int64_t record_line) {
    const size_t newline = content_.find('\n', record_start);
    pos_ = newline == std::string_view::npos ? content_.size() : newline + 1;
    line_ = record_line + 1;
  }

  std::string_view content_;
  char delimiter_;
  bool quotes_are_strict_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// A column option that is a 0-based index rather than a name.
std::optional<size_t> parse_index(const std::string& column) {
  size_t index = 0;
  const char* end = column.data() + column.size();
  const auto [stop, status] = std::from_chars(column.data(), end, index);
  if (column.empty() || status != std::errc() || stop != end) return std::nullopt;
  return index;
}

bool is_name(const std::string& column) {
  return !column.empty() && !parse_index(column);
}

bool looks_like_column_name(std::string_view field) {
  if (field.empty() || field.size() > 64) return false;
  const auto c0 = static_cast<unsigned char>(field[0]);
  if (!std::isalpha(c0) && c0 != '_') return false;
  return std::all_of(field.begin(), field.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return std::isalnum(byte) || c == '_' || c == '-' || c == '.' || c == ' ';
  });
}

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

struct Columns {
  size_t text = 0;
  std::optional<size_t> text_pair;
  size_t label = 0;
};

class ColumnResolver {
 public:
  ColumnResolver(const std::string& path, std::vector<std::string> names, size_t count)
      : path_(path), names_(std::move(names)), count_(count) {}

  Columns resolve(const ReadOptions& options) const {
    check(count_ >= 2, "dataset",
          path_ + ": needs a text and a label column, found " + std::to_string(count_) + " column");
    Columns columns;
    columns.label = find(options.label_column, "label_column").value_or(named("label").value_or(count_ - 1));
    columns.text_pair = find(options.text_pair_column, "text_pair_column");
    const auto default_text = named("sentence") ? named("sentence") : named("text");
    columns.text = find(options.text_column, "text_column").value_or(default_text.value_or(first_other_than(columns)));
    check(columns.text < count_, "dataset", path_ + ": no column left for the text");
    check(columns.text != columns.label, "dataset",
          path_ + ": text and label are the same column (" + std::to_string(columns.text) + ")");
    check(columns.text_pair != columns.text && columns.text_pair != columns.label, "dataset",
          path_ + ": text_pair_column must differ from the text and label columns");
    return columns;
  }

 private:
  std::optional<size_t> named(const std::string& name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) return std::nullopt;
    return static_cast<size_t>(it - names_.begin());
  }

  std::optional<size_t> find(const std::string& column, const char* option) const {
    if (column.empty()) return std::nullopt;
    if (const auto by_name = named(column)) return by_name;
    if (const auto index = parse_index(column)) {
      check(*index < count_, "dataset",
            path_ + ": " + option + " " + column + " is out of range (the file has " + std::to_string(count_) +
                " columns)");
      return index;
    }
    const std::string known = names_.empty() ? "the file has no header" : "columns: " + join(names_);
    throw Error("[dataset] " + path_ + ": " + option + " '" + column + "' not found; " + known);
  }

  size_t first_other_than(const Columns& columns) const {
    size_t index = 0;
    while (index == columns.label || index == columns.text_pair) ++index;
    return index;
  }

  const std::string& path_;
  std::vector<std::string> names_;
  size_t count_;
};

class DelimitedReader {
 public:
  DelimitedReader(const std::string& path, std::string_view content, char delimiter, const ReadOptions& options)
      : path_(path), options_(options) {
    records_ = RecordSplitter(content, delimiter).split_all(fields_);
  }

  TextDataset read() {
    TextDataset dataset;
    dataset.path = path_;
    check(!records_.empty(), "dataset", path_ + ": no examples (the file is empty)");
    check(records_.front().error.empty(), "dataset",
          path_ + ":" + std::to_string(records_.front().line) + ": " + records_.front().error);
    const bool header = has_header();
    std::vector<std::string> names;
    if (header)
      for (const auto& field : fields_of(records_.front())) names.push_back(decode(field));
    const size_t field_count = records_.front().field_count;
    const Columns columns = ColumnResolver(path_, names, field_count).resolve(options_);
    dataset.header = names;

    BadRows bad_rows(dataset, options_.skip_bad_rows);
    dataset.examples.reserve(records_.size());
    for (size_t r = header ? 1 : 0; r < records_.size(); ++r) {
      const RawRecord& record = records_[r];
      if (!record.error.empty()) {
        bad_rows.report(record.line, record.error);
      } else if (record.field_count != field_count) {
        bad_rows.report(record.line, "expected " + std::to_string(field_count) + " fields, found " +
                                         std::to_string(record.field_count));
      } else if (const std::string why = add_example(record, columns, dataset); !why.empty()) {
        bad_rows.report(record.line, why);
      }
    }
    require_examples(dataset);
    return dataset;
  }

 private:
  std::span<const RawField> fields_of(const RawRecord& record) const {
    return std::span<const RawField>(fields_).subspan(record.first_field, record.field_count);
  }

  // Returns why the row is bad, or "" after appending its example.
  std::string add_example(const RawRecord& record, const Columns& columns, TextDataset& dataset) {
    const auto fields = fields_of(record);
    Example example{decode(fields[columns.text]), {}, decode(fields[columns.label]), record.line};
    if (columns.text_pair) example.text_pair = decode(fields[*columns.text_pair]);
    example.label = std::string(trim(example.label));
    if (!is_valid_utf8(example.text) || !is_valid_utf8(example.text_pair) || !is_valid_utf8(example.label))
      return "invalid UTF-8";
    if (example.label.empty()) return "empty label";
    dataset.examples.push_back(std::move(example));
    return "";
  }

  bool has_header() const {
    if (options_.header) return *options_.header;
    if (is_name(options_.text_column) || is_name(options_.text_pair_column) || is_name(options_.label_column))
      return true;
    const auto first = fields_of(records_.front());
    if (!std::all_of(first.begin(), first.end(),
                     [](const RawField& field) { return looks_like_column_name(field.text); }))
      return false;
    return !first_row_value_recurs_as_label(first.size());
  }

  // "good,positive" followed by rows labelled "positive" is data, not a header.
  bool first_row_value_recurs_as_label(size_t field_count) const {
    const size_t label = parse_index(options_.label_column).value_or(field_count - 1);
    if (label >= field_count) return false;
    const std::string_view first_value = fields_of(records_.front())[label].text;
    constexpr size_t rows_to_look_at = 1000;
    for (size_t r = 1; r < records_.size() && r <= rows_to_look_at; ++r) {
      const auto fields = fields_of(records_[r]);
      if (fields.size() == field_count && trim(fields[label].text) == first_value) return true;
    }
    return false;
  }

  const std::string& path_;
  const ReadOptions& options_;
  std::vector<RawField> fields_;
  std::vector<RawRecord> records_;
};

}  // namespace

TextDataset read_delimited(const std::string& path, std::string_view content, char delimiter,
                           const ReadOptions& options) {
  return DelimitedReader(path, content, delimiter, options).read();
}

}  // namespace graft::data_detail
