#include "graft/tokenizer/utf8.h"

#include <utf8proc.h>

#include "graft/core/error.h"

namespace graft::tokenizer {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t position = 0;
  while (position < text.size()) {
    if (bytes[position] < 0x80) {  // ASCII fast path
      out.push_back(bytes[position++]);
      continue;
    }
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(bytes + position, static_cast<utf8proc_ssize_t>(text.size() - position), &code_point);
    check(
        length > 0, "tokenizer",
        "input text is not valid UTF-8 (bad byte 0x" +
            [&] {
              static const char* digits = "0123456789abcdef";
              return std::string{digits[bytes[position] >> 4], digits[bytes[position] & 15]};
            }() +
            " at byte offset " + std::to_string(position) + ")");
    out.push_back(static_cast<char32_t>(code_point));
    position += static_cast<size_t>(length);
  }
  return out;
}

size_t valid_utf8_prefix(std::string_view text) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t position = 0;
  while (position < text.size()) {
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(bytes + position, static_cast<utf8proc_ssize_t>(text.size() - position), &code_point);
    if (length <= 0) break;
    position += static_cast<size_t>(length);
  }
  return position;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
    return;
  }
  utf8proc_uint8_t buffer[4];
  const auto length = utf8proc_encode_char(static_cast<utf8proc_int32_t>(code_point), buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

}  // namespace graft::tokenizer
