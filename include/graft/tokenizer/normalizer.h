#pragma once
// BertNormalizer (clean_text, handle_chinese_chars, strip_accents, lowercase). Every normalized
// character remembers the original code point it came from, so offsets survive normalization.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace graft::tokenizer {

struct NormalizerConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset: follows lowercase, as Hugging Face

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

struct NormalizedText {
  std::u32string chars;
  std::string utf8;
  std::vector<uint32_t> byte_offsets;  // where each char starts in utf8, plus utf8.size() at the end
  std::vector<int64_t> origins;        // original code point index of each char

  void clear();
  void push(char32_t code_point, int64_t origin);
  std::string_view bytes(size_t begin_char, size_t end_char) const {
    return std::string_view(utf8).substr(byte_offsets[begin_char], byte_offsets[end_char] - byte_offsets[begin_char]);
  }
};

// Normalizes `original` (which starts at code point `origin_base` of the whole text) into `out`,
// replacing its previous contents.
void normalize(const NormalizerConfig& config, std::u32string_view original, int64_t origin_base,
               NormalizedText& out);

bool is_chinese_char(char32_t c);

}  // namespace graft::tokenizer
