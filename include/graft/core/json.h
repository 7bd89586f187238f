#pragma once
// JSON as the files graft reads need it parsed. nlohmann's defaults take a key given twice in one object
// (the last one wins, silently) and report a number beyond double range (1e400) as an out_of_range
// exception of its own; both are refused here with a graft::Error that names the file.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace graft {

// Errors read "[LAYER] SOURCE: WHAT: ..." ("[json] config.json: malformed JSON: ...").
nlohmann::json parse_json(std::string_view text, const char* layer, const std::string& source,
                          const std::string& what = "malformed JSON");
// The same for a part of a file (a JSON-lines row): nothing when `text` is not valid, and why in `problem`.
std::optional<nlohmann::json> parse_json_or_explain(std::string_view text, std::string& problem);

// Typed fields of one JSON object (config.json, trainer_state.json); a field that is absent or null takes the
// fallback. Errors say "[LAYER] SOURCE: ...".
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, const char* layer, const std::string& source)
      : object_(object), layer_(layer), source_(source) {}

  bool present(const char* name) const;
  [[noreturn]] void fail(const std::string& message) const;
  // The field, which must be present and of the type `is_type` checks ("an integer" names it).
  const nlohmann::json& required(const char* name, bool (nlohmann::json::*is_type)() const noexcept,
                                 const char* type) const;
  const nlohmann::json& field(const char* name, bool (nlohmann::json::*is_type)() const noexcept,
                              const char* type) const;
  int64_t required_integer(const char* name) const;
  int64_t integer(const char* name, int64_t fallback) const;
  double number(const char* name, double fallback) const;
  bool boolean(const char* name, bool fallback) const;
  std::string string(const char* name, const std::string& fallback) const;

 private:
  const nlohmann::json& object_;
  const char* layer_;
  const std::string& source_;
};

}  // namespace graft
