#pragma once
// What the fuzz targets share. Each target feeds libFuzzer's bytes to one of graft's readers; a graft::Error
// is the answer to bad input and is caught, anything else (another exception type, a sanitizer report, a
// timeout, memory without bound) is a crash libFuzzer reports.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graft/core/error.h"

namespace graft::fuzz {

// A folder of this process's own (libFuzzer may run several jobs at once).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const auto path = std::filesystem::temp_directory_path() / ("graft-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path.string();
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The input cut at each "\n--\n": the parts of a multi-file input (tokenizer.json, tokenizer_config.json, ...).
inline std::vector<std::string_view> parts(std::string_view input, size_t most) {
  std::vector<std::string_view> pieces;
  while (pieces.size() + 1 < most) {
    const size_t cut = input.find("\n--\n");
    if (cut == std::string_view::npos) break;
    pieces.push_back(input.substr(0, cut));
    input.remove_prefix(cut + 4);
  }
  pieces.push_back(input);
  return pieces;
}

inline void expect_graft_errors_only(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error&) {
    // bad input, said clearly: the expected outcome
  }
}

}  // namespace graft::fuzz
