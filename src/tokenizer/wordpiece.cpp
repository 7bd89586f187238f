#include "graft/tokenizer/wordpiece.h"

#include <algorithm>

#include "graft/core/error.h"

namespace graft::tokenizer {

WordPiece::WordPiece(std::vector<std::string> tokens, WordPieceConfig config)
    : tokens_(std::move(tokens)), config_(std::move(config)) {
  word_starts_.reserve(tokens_.size());
  continuations_.reserve(tokens_.size());
  const std::string_view prefix = config_.continuing_subword_prefix;
  for (size_t id = 0; id < tokens_.size(); ++id) {
    const std::string_view token = tokens_[id];
    // As transformers' load_vocab: a repeated token maps to its last id.
    word_starts_[token] = static_cast<int64_t>(id);
    if (!prefix.empty() && token.starts_with(prefix)) continuations_[token.substr(prefix.size())] = static_cast<int64_t>(id);
    longest_token_bytes_ = std::max(longest_token_bytes_, token.size());
  }
  unk_id_ = token_to_id(config_.unk_token);
  check(unk_id_ >= 0, "tokenizer", "unknown token '" + config_.unk_token + "' is not in the vocabulary");
  check(config_.max_input_chars_per_word > 0, "tokenizer", "max_input_chars_per_word must be positive");
}

int64_t WordPiece::token_to_id(std::string_view token) const {
  const auto found = word_starts_.find(token);
  return found == word_starts_.end() ? -1 : found->second;
}

const std::string& WordPiece::id_to_token(int64_t id) const {
  // Not check(): this is on the hot path and the message must only be built on failure.
  if (id < 0 || id >= size())
    throw Error("[tokenizer] token id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(size()) + ")");
  return tokens_[static_cast<size_t>(id)];
}

void WordPiece::tokenize_word(const NormalizedText& text, CharRange word, int64_t word_index,
                              std::vector<Token>& out) const {
  const auto origin_start = [&](size_t i) { return text.origins[i]; };
  const auto origin_end = [&](size_t i) { return text.origins[i - 1] + 1; };
  const auto unknown_word = Token{unk_id_, origin_start(word.begin), origin_end(word.end), word_index};
  if (static_cast<int64_t>(word.end - word.begin) > config_.max_input_chars_per_word) {
    out.push_back(unknown_word);
    return;
  }
  const size_t first_piece = out.size();
  for (size_t start = word.begin; start < word.end;) {
    const auto& table = start == word.begin ? word_starts_ : continuations_;
    const size_t extra_bytes = start == word.begin ? 0 : config_.continuing_subword_prefix.size();
    int64_t id = -1;
    size_t end = word.end;
    for (; end > start; --end) {
      const size_t bytes = text.byte_offsets[end] - text.byte_offsets[start];
      if (bytes + extra_bytes > longest_token_bytes_) continue;
      const auto found = table.find(text.bytes(start, end));
      if (found != table.end()) {
        id = found->second;
        break;
      }
    }
    if (id < 0) {
      out.resize(first_piece);
      out.push_back(unknown_word);
      return;
    }
    out.push_back({id, origin_start(start), origin_end(end), word_index});
    start = end;
  }
}

}  // namespace graft::tokenizer
