#include "graft/core/json.h"

#include <set>
#include <vector>

#include "graft/core/error.h"

namespace graft {

nlohmann::json parse_json(std::string_view text, const char* layer, const std::string& source,
                          const std::string& what) {
  const std::string prefix = "[" + std::string(layer) + "] " + source + ": " + what + ": ";
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
    throw Error(prefix + error.what());
  }
  if (!duplicate.empty()) throw Error(prefix + "key \"" + duplicate + "\" appears twice in one object");
  return result;
}

}  // namespace graft
