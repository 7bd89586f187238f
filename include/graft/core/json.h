#pragma once
// JSON as the files graft reads need it parsed. nlohmann's defaults take a key given twice in one object
// (the last one wins, silently) and report a number beyond double range (1e400) as an out_of_range
// exception of its own; both are refused here with a graft::Error that names the file.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace graft {

// Errors read "[LAYER] SOURCE: WHAT: ..." ("[json] config.json: malformed JSON: ...").
nlohmann::json parse_json(std::string_view text, const char* layer, const std::string& source,
                          const std::string& what = "malformed JSON");

}  // namespace graft
