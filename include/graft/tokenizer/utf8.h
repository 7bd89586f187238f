#pragma once
// UTF-8 <-> code points for the tokenizer; invalid input is a graft::Error, never a crash.
#include <string>
#include <string_view>

namespace graft::tokenizer {

std::u32string decode_utf8(std::string_view text);
// The length of the longest valid UTF-8 prefix: text.size() when all of it is valid.
size_t valid_utf8_prefix(std::string_view text);
void append_utf8(std::string& out, char32_t code_point);

}  // namespace graft::tokenizer
