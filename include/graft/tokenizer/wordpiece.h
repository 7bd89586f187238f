#pragma once
// The WordPiece model: greedy longest-match-first over a word, "##" marking continuation pieces;
// a word with an unmatchable piece, or longer than max_input_chars_per_word, becomes [UNK].
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graft/tokenizer/normalizer.h"
#include "graft/tokenizer/pre_tokenizer.h"

namespace graft::tokenizer {

struct Token {
  int64_t id;
  int64_t start;  // [start, end) in original code points
  int64_t end;
  int64_t word;
};

struct WordPieceConfig {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int64_t max_input_chars_per_word = 100;
};

class WordPiece {
 public:
  // tokens[id] is the token with that id.
  WordPiece(std::vector<std::string> tokens, WordPieceConfig config);
  WordPiece(const WordPiece&) = delete;  // the lookup tables point into tokens_
  WordPiece& operator=(const WordPiece&) = delete;

  void tokenize_word(const NormalizedText& text, CharRange word, int64_t word_index, std::vector<Token>& out) const;

  int64_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string& id_to_token(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t unk_id() const { return unk_id_; }
  const WordPieceConfig& config() const { return config_; }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> tokens_;
  WordPieceConfig config_;
  std::unordered_map<std::string_view, int64_t> word_starts_;     // every token, by its full text
  std::unordered_map<std::string_view, int64_t> continuations_;  // "##x" tokens, by "x"
  size_t longest_token_bytes_ = 0;
  int64_t unk_id_ = -1;
};

}  // namespace graft::tokenizer
