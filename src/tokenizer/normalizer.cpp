#include "graft/tokenizer/normalizer.h"

#include <utf8proc.h>

#include "graft/tokenizer/pre_tokenizer.h"
#include "graft/tokenizer/utf8.h"

namespace graft::tokenizer {

void NormalizedText::clear() {
  chars.clear();
  utf8.clear();
  byte_offsets.assign(1, 0);
  origins.clear();
}

void NormalizedText::push(char32_t code_point, int64_t origin) {
  chars.push_back(code_point);
  append_utf8(utf8, code_point);
  byte_offsets.push_back(static_cast<uint32_t>(utf8.size()));
  origins.push_back(origin);
}

bool is_chinese_char(char32_t c) {
  // The ranges of tokenizers' bert normalizer, including its 0x2B920 (not 0x2B820) start.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

namespace {

utf8proc_category_t category_of(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

// Rust's `is_other` as used by tokenizers (Cc, Cf, Co), except \t \n \r which count as whitespace.
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const auto category = category_of(c);
  return category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF || category == UTF8PROC_CATEGORY_CO;
}

void push_lowercased(const NormalizerConfig& config, char32_t c, int64_t origin, NormalizedText& out) {
  if (!config.lowercase) {
    out.push(c, origin);
  } else if (c < 0x80) {
    out.push(c >= 'A' && c <= 'Z' ? c + 32 : c, origin);
  } else if (c == 0x130) {
    // Rust's full lowercase mapping of U+0130 is two code points; utf8proc only has the simple one.
    out.push(U'i', origin);
    out.push(0x307, origin);
  } else {
    out.push(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), origin);
  }
}

void push_accent_stripped(const NormalizerConfig& config, char32_t c, int64_t origin, NormalizedText& out) {
  if (!config.strips_accents() || c < 0x80) {
    push_lowercased(config, c, origin, out);
    return;
  }
  utf8proc_int32_t decomposed[32];
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  const auto count = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), decomposed, 32, UTF8PROC_DECOMPOSE,
                                             &boundclass);
  for (utf8proc_ssize_t i = 0; i < count; ++i) {
    const auto part = static_cast<char32_t>(decomposed[i]);
    if (category_of(part) != UTF8PROC_CATEGORY_MN) push_lowercased(config, part, origin, out);
  }
}

}  // namespace

void normalize(const NormalizerConfig& config, std::u32string_view original, int64_t origin_base,
               NormalizedText& out) {
  out.clear();
  for (size_t i = 0; i < original.size(); ++i) {
    char32_t c = original[i];
    const int64_t origin = origin_base + static_cast<int64_t>(i);
    if (config.clean_text) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_bert_whitespace(c)) c = U' ';
    }
    if (config.handle_chinese_chars && is_chinese_char(c)) {
      out.push(U' ', origin);
      push_accent_stripped(config, c, origin, out);
      out.push(U' ', origin);
    } else {
      push_accent_stripped(config, c, origin, out);
    }
  }
}

}  // namespace graft::tokenizer
