#pragma once
// One exception type for every user-facing failure. Messages name the thing that failed
// ("[safetensors] model.safetensors: header length 99999 exceeds file size 120") so that the CLI
// can print them as they are, on one line.
#include <stdexcept>
#include <string>

namespace graft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws graft::Error("[where] message") when the condition is false.
inline void check(bool condition, const char* where, const std::string& message) {
  if (!condition) throw Error(std::string("[") + where + "] " + message);
}

}  // namespace graft
