#include "data/reader_support.h"

#include <cstdio>
#include <memory>

#include "graft/core/error.h"

namespace graft::data_detail {

std::string read_whole_file(const std::string& path, int64_t max_line_bytes) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  check(file != nullptr, "dataset", path + ": cannot open file");
  std::string content;
  char buffer[1 << 16];
  size_t got = 0;
  size_t line_start = 0;  // of the line being read
  int64_t line_number = 1;
  const auto check_line = [&](size_t line_end) {
    check(static_cast<int64_t>(line_end - line_start) <= max_line_bytes, "dataset",
          path + ":" + std::to_string(line_number) + ": a line longer than " + std::to_string(max_line_bytes) +
              " bytes (is this a text file? train and evaluate take --max-line-bytes for longer lines)");
  };
  // A file without line breaks (/dev/zero, a binary) would otherwise be read until memory runs out.
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    const size_t chunk_start = content.size();
    content.append(buffer, got);
    for (size_t at = content.find('\n', chunk_start); at != std::string::npos; at = content.find('\n', at + 1)) {
      check_line(at);
      line_start = at + 1;
      ++line_number;
    }
    check_line(content.size());
  }
  check(!std::ferror(file.get()), "dataset", path + ": read error");
  if (content.starts_with("\xEF\xBB\xBF")) content.erase(0, 3);
  return content;
}

bool is_valid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > size) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
    }
    static constexpr uint32_t smallest_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    const bool overlong = code_point < smallest_for_length[length];
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    if (overlong || surrogate || code_point > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view text) {
  std::string utf8;
  utf8.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      utf8.push_back(c);
    } else {
      utf8.push_back(static_cast<char>(0xC0 | (byte >> 6)));
      utf8.push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
  return utf8;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view whitespace = " \t\r\n\f\v";
  const size_t begin = text.find_first_not_of(whitespace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(whitespace) - begin + 1);
}

void BadRows::report(int64_t line, const std::string& why) {
  const std::string message = dataset_.path + ":" + std::to_string(line) + ": " + why;
  check(skip_, "dataset", message + " (pass skip_bad_rows to skip such rows)");
  if (dataset_.skipped_rows++ == 0) dataset_.first_skipped_reason = message;
}

void require_examples(const TextDataset& dataset) {
  if (!dataset.examples.empty()) return;
  std::string message = dataset.path + ": no examples";
  if (dataset.skipped_rows > 0) {
    message +=
        " (" + std::to_string(dataset.skipped_rows) + " bad rows skipped; first: " + dataset.first_skipped_reason + ")";
  }
  throw Error("[dataset] " + message);
}

}  // namespace graft::data_detail
