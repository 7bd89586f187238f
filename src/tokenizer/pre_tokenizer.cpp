#include "graft/tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

namespace graft::tokenizer {

bool is_bert_whitespace(char32_t c) {
  if (c == ' ' || (c >= '\t' && c <= '\r')) return true;
  if (c < 0x80) return false;
  if (c == 0x85) return true;
  // The White_Space property is exactly these controls plus the Z* categories.
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL || category == UTF8PROC_CATEGORY_ZP;
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

void pre_tokenize(std::u32string_view chars, size_t begin, size_t end, std::vector<CharRange>& words) {
  size_t word_begin = begin;
  for (size_t i = begin; i < end; ++i) {
    const char32_t c = chars[i];
    const bool whitespace = is_bert_whitespace(c);
    if (!whitespace && !is_bert_punctuation(c)) continue;
    if (word_begin < i) words.push_back({word_begin, i});
    if (!whitespace) words.push_back({i, i + 1});
    word_begin = i + 1;
  }
  if (word_begin < end) words.push_back({word_begin, end});
}

}  // namespace graft::tokenizer
