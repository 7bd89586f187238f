#pragma once
// Added tokens ([CLS], [MASK], ...) found in the text are kept whole, as Hugging Face's
// AddedVocabulary: leftmost-longest matches, on the original text for tokens with normalized=false
// and on the normalized text otherwise.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace graft::tokenizer {

struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool special = true;
  bool normalized = false;
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matches when not inside a word
};

struct AddedTokenMatch {
  size_t begin;  // [begin, end) in the searched chars, stripped whitespace included
  size_t end;
  int64_t id;
};

class AddedTokenMatcher {
 public:
  // Keeps the tokens whose `normalized` flag equals `normalized`.
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized);

  bool empty() const { return patterns_.empty(); }
  std::vector<AddedTokenMatch> find(std::u32string_view chars) const;

 private:
  struct Pattern {
    std::u32string chars;
    const AddedToken* token;
  };
  bool matches_at(const Pattern& pattern, std::u32string_view chars, size_t position) const;
  std::vector<Pattern> patterns_;
  std::u32string first_chars_;  // where a match can start, to skip the rest of the text quickly
};

}  // namespace graft::tokenizer
