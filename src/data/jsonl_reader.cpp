// JSON lines: one object per line; text and label are fields chosen by name.
#include <nlohmann/json.hpp>
#include <optional>

#include "data/reader_support.h"
#include "graft/core/error.h"
#include "graft/core/json.h"

namespace graft::data_detail {
namespace {

struct JsonFields {
  std::string text;
  std::string text_pair;  // empty: none
  std::string label;
};

// JSON objects have no column order, so every column option is a field name here.
JsonFields field_names(const ReadOptions& options) {
  return {options.text_column, options.text_pair_column, options.label_column.empty() ? "label" : options.label_column};
}

// Labels may be written as strings or as numbers ({"label": 1}); both become "1".
std::optional<std::string> label_string(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return std::nullopt;
}

class JsonlReader {
 public:
  JsonlReader(const std::string& path, const ReadOptions& options)
      : fields_(field_names(options)), skip_bad_rows_(options.skip_bad_rows) {
    dataset_.path = path;
  }

  TextDataset read(std::string_view content) {
    BadRows bad_rows(dataset_, skip_bad_rows_);
    int64_t line_number = 0;
    size_t pos = 0;
    while (pos < content.size()) {
      size_t end = content.find('\n', pos);
      if (end == std::string_view::npos) end = content.size();
      const std::string_view line = trim(content.substr(pos, end - pos));
      pos = end + 1;
      ++line_number;
      if (line.empty()) continue;
      if (const std::string why = add_example(line, line_number); !why.empty()) bad_rows.report(line_number, why);
    }
    require_examples(dataset_);
    return std::move(dataset_);
  }

 private:
  // Returns why the line is bad, or "" after appending its example.
  std::string add_example(std::string_view line, int64_t line_number) {
    if (!is_valid_utf8(line)) return "invalid UTF-8";
    std::string problem;
    const std::optional<nlohmann::json> parsed = parse_json_or_explain(line, problem);
    if (!parsed) return "invalid JSON (" + problem + ")";
    const nlohmann::json& object = *parsed;
    if (!object.is_object()) return "expected a JSON object";
    Example example;
    example.line = line_number;
    const std::string text_field = text_field_of(object);
    if (text_field.empty()) return "no \"text\" or \"sentence\" field";
    if (std::string why = read_text(object, text_field, example.text); !why.empty()) return why;
    if (!fields_.text_pair.empty())
      if (std::string why = read_text(object, fields_.text_pair, example.text_pair); !why.empty()) return why;
    const auto label = object.find(fields_.label);
    if (label == object.end()) return "missing field \"" + fields_.label + "\"";
    const auto label_text = label_string(*label);
    if (!label_text) return "field \"" + fields_.label + "\" is not a string or number";
    example.label = std::string(trim(*label_text));
    if (example.label.empty()) return "empty label";
    dataset_.examples.push_back(std::move(example));
    return "";
  }

  std::string text_field_of(const nlohmann::json& object) const {
    if (!fields_.text.empty()) return fields_.text;
    if (object.contains("text")) return "text";
    if (object.contains("sentence")) return "sentence";
    return "";
  }

  static std::string read_text(const nlohmann::json& object, const std::string& field, std::string& out) {
    const auto value = object.find(field);
    if (value == object.end()) return "missing field \"" + field + "\"";
    if (!value->is_string()) return "field \"" + field + "\" is not a string";
    out = value->get<std::string>();
    return "";
  }

  JsonFields fields_;
  bool skip_bad_rows_;
  TextDataset dataset_;
};

}  // namespace

TextDataset read_jsonl(const std::string& path, std::string_view content, const ReadOptions& options) {
  return JsonlReader(path, options).read(content);
}

}  // namespace graft::data_detail
