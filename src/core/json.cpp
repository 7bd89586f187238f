#include "graft/core/json.h"

#include <set>
#include <vector>

#include "graft/core/error.h"

namespace graft {

std::optional<nlohmann::json> parse_json_or_explain(std::string_view text, std::string& problem) {
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::string duplicate;
  const auto refuse_duplicates = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      keys_of_open_objects.emplace_back();
    } else if (event == Event::object_end) {
      keys_of_open_objects.pop_back();
    } else if (event == Event::key && duplicate.empty() &&
               !keys_of_open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json result;
  try {
    result = nlohmann::json::parse(text.begin(), text.end(), refuse_duplicates);
  } catch (const nlohmann::json::exception& error) {
    problem = error.what();
    return std::nullopt;
  }
  if (!duplicate.empty()) {
    problem = "key \"" + duplicate + "\" appears twice in one object";
    return std::nullopt;
  }
  return result;
}

nlohmann::json parse_json(std::string_view text, const char* layer, const std::string& source,
                          const std::string& what) {
  std::string problem;
  std::optional<nlohmann::json> parsed = parse_json_or_explain(text, problem);
  if (!parsed) throw Error("[" + std::string(layer) + "] " + source + ": " + what + ": " + problem);
  return std::move(*parsed);
}

bool JsonFields::present(const char* name) const {
  return object_.contains(name) && !object_[name].is_null();
}

void JsonFields::fail(const std::string& message) const {
  throw Error("[" + std::string(layer_) + "] " + source_ + ": " + message);
}

const nlohmann::json& JsonFields::field(const char* name, bool (nlohmann::json::*is_type)() const noexcept,
                                        const char* type) const {
  const nlohmann::json& value = object_[name];
  if (!(value.*is_type)()) {
    fail("field \"" + std::string(name) + "\" must be " + type + ", got " + value.type_name() + " " + value.dump());
  }
  return value;
}

const nlohmann::json& JsonFields::required(const char* name, bool (nlohmann::json::*is_type)() const noexcept,
                                           const char* type) const {
  if (!present(name)) fail("missing required field \"" + std::string(name) + "\"");
  return field(name, is_type, type);
}

int64_t JsonFields::required_integer(const char* name) const {
  return required(name, &nlohmann::json::is_number_integer, "an integer").get<int64_t>();
}

int64_t JsonFields::integer(const char* name, int64_t fallback) const {
  return present(name) ? field(name, &nlohmann::json::is_number_integer, "an integer").get<int64_t>() : fallback;
}

double JsonFields::number(const char* name, double fallback) const {
  return present(name) ? field(name, &nlohmann::json::is_number, "a number").get<double>() : fallback;
}

bool JsonFields::boolean(const char* name, bool fallback) const {
  return present(name) ? field(name, &nlohmann::json::is_boolean, "true or false").get<bool>() : fallback;
}

std::string JsonFields::string(const char* name, const std::string& fallback) const {
  return present(name) ? field(name, &nlohmann::json::is_string, "a string").get<std::string>() : fallback;
}

}  // namespace graft
