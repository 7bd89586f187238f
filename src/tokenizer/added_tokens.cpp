#include "graft/tokenizer/added_tokens.h"

#include <utf8proc.h>

#include "graft/tokenizer/pre_tokenizer.h"
#include "graft/tokenizer/utf8.h"

namespace graft::tokenizer {

namespace {

bool is_word_char(char32_t c) {
  if (c == '_') return true;
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized) {
  for (const auto& token : tokens) {
    if (token.normalized != normalized || token.content.empty()) continue;
    patterns_.push_back({decode_utf8(token.content), &token});
    if (first_chars_.find(patterns_.back().chars[0]) == std::u32string::npos)
      first_chars_.push_back(patterns_.back().chars[0]);
  }
}

bool AddedTokenMatcher::matches_at(const Pattern& pattern, std::u32string_view chars, size_t position) const {
  if (chars.substr(position, pattern.chars.size()) != pattern.chars) return false;
  if (!pattern.token->single_word) return true;
  const size_t end = position + pattern.chars.size();
  const bool starts_word = position == 0 || !is_word_char(chars[position - 1]);
  const bool ends_word = end == chars.size() || !is_word_char(chars[end]);
  return starts_word && ends_word;
}

std::vector<AddedTokenMatch> AddedTokenMatcher::find(std::u32string_view chars) const {
  std::vector<AddedTokenMatch> matches;
  if (patterns_.empty()) return matches;
  size_t previous_end = 0;
  for (size_t position = chars.find_first_of(first_chars_); position < chars.size();
       position = chars.find_first_of(first_chars_, position)) {
    const Pattern* best = nullptr;
    for (const auto& pattern : patterns_) {
      if (pattern.chars[0] != chars[position]) continue;
      if ((!best || pattern.chars.size() > best->chars.size()) && matches_at(pattern, chars, position)) best = &pattern;
    }
    if (!best) {
      ++position;
      continue;
    }
    size_t begin = position;
    size_t end = position + best->chars.size();
    if (best->token->lstrip)
      while (begin > previous_end && is_bert_whitespace(chars[begin - 1])) --begin;
    if (best->token->rstrip)
      while (end < chars.size() && is_bert_whitespace(chars[end])) ++end;
    matches.push_back({begin, end, best->token->id});
    previous_end = position = end;
  }
  return matches;
}

}  // namespace graft::tokenizer
