#pragma once
// BertPreTokenizer: split on whitespace (dropped) and isolate every punctuation character.
#include <cstddef>
#include <string_view>
#include <vector>

namespace graft::tokenizer {

struct CharRange {
  size_t begin;
  size_t end;
};

bool is_bert_whitespace(char32_t c);   // Rust char::is_whitespace
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or Unicode category P*

// Appends the words of chars[begin, end) to `words`.
void pre_tokenize(std::u32string_view chars, size_t begin, size_t end, std::vector<CharRange>& words);

}  // namespace graft::tokenizer
