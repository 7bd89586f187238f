#include "graft/tokenizer/post_processor.h"

#include <algorithm>

#include "graft/core/error.h"

namespace graft::tokenizer {

namespace {

void truncate_longest_first(std::vector<Token>& first, std::vector<Token>* second, size_t budget) {
  if (!second) {
    first.resize(budget);
    return;
  }
  // tokenizers does not remove one token at a time (as the slow Python tokenizers do): it keeps the
  // shorter sequence whole when it fits in half the budget, else splits the budget in halves with
  // the odd token going to the longer one.
  size_t shorter = first.size();
  size_t longer = second->size();
  const bool swapped = shorter > longer;
  if (swapped) std::swap(shorter, longer);
  longer = shorter > budget ? shorter : std::max(shorter, budget - shorter);
  if (shorter + longer > budget) {
    shorter = budget / 2;
    longer = shorter + budget % 2;
  }
  if (swapped) std::swap(shorter, longer);
  first.resize(std::min(first.size(), shorter));
  second->resize(std::min(second->size(), longer));
}

}  // namespace

void truncate_sequences(std::vector<Token>& first, std::vector<Token>* second, int64_t budget, Truncation strategy) {
  const size_t total = first.size() + (second ? second->size() : 0);
  const auto limit = static_cast<size_t>(std::max<int64_t>(budget, 0));
  if (strategy == Truncation::None || total <= limit) return;
  const size_t to_remove = total - limit;
  switch (strategy) {
    case Truncation::LongestFirst:
      truncate_longest_first(first, second, limit);
      return;
    case Truncation::OnlyFirst:
    case Truncation::OnlySecond: {
      check(strategy == Truncation::OnlyFirst || second != nullptr, "tokenizer",
            "truncation only_second needs a pair of sequences");
      auto& target = strategy == Truncation::OnlyFirst ? first : *second;
      check(target.size() > to_remove, "tokenizer",
            std::string("truncation ") + (strategy == Truncation::OnlyFirst ? "only_first" : "only_second") +
                " cannot reach max_length: the " + (strategy == Truncation::OnlyFirst ? "first" : "second") +
                " sequence has " + std::to_string(target.size()) + " tokens but " + std::to_string(to_remove) +
                " must go");
      target.resize(target.size() - to_remove);
      return;
    }
    case Truncation::None:
      return;
  }
}

std::vector<std::pair<size_t, size_t>> window_ranges(size_t length, size_t window, size_t stride) {
  check(window > 0, "tokenizer", "windows need room for at least one token besides the special tokens");
  check(stride < window, "tokenizer",
        "stride " + std::to_string(stride) + " must be smaller than the window's " + std::to_string(window) +
            " tokens (max_length minus the special tokens)");
  std::vector<std::pair<size_t, size_t>> ranges;
  for (size_t start = 0;; start += window - stride) {
    const size_t stop = std::min(start + window, length);
    ranges.emplace_back(start, stop);
    if (stop == length) break;
  }
  return ranges;
}

namespace {

void append_special(Encoding& encoding, int64_t id, const WordPiece& vocab, int64_t type_id) {
  encoding.ids.push_back(id);
  encoding.type_ids.push_back(type_id);
  encoding.attention_mask.push_back(1);
  encoding.special_tokens_mask.push_back(1);
  encoding.tokens.push_back(vocab.id_to_token(id));
  encoding.offsets.emplace_back(0, 0);
  encoding.word_ids.push_back(-1);
  encoding.sequence_ids.push_back(-1);
}

void append_sequence(Encoding& encoding, const std::vector<Token>& tokens, const WordPiece& vocab,
                     int64_t sequence) {
  for (const auto& token : tokens) {
    encoding.ids.push_back(token.id);
    encoding.type_ids.push_back(sequence);
    encoding.attention_mask.push_back(1);
    encoding.special_tokens_mask.push_back(0);
    encoding.tokens.push_back(vocab.id_to_token(token.id));
    encoding.offsets.emplace_back(token.start, token.end);
    encoding.word_ids.push_back(token.word);
    encoding.sequence_ids.push_back(sequence);
  }
}

}  // namespace

Encoding assemble_encoding(const std::vector<Token>& first, const std::vector<Token>* second,
                           bool add_special_tokens, const SpecialTokens& specials, const WordPiece& vocab) {
  Encoding encoding;
  if (add_special_tokens) append_special(encoding, specials.cls_id, vocab, 0);
  append_sequence(encoding, first, vocab, 0);
  if (add_special_tokens) append_special(encoding, specials.sep_id, vocab, 0);
  if (second) {
    append_sequence(encoding, *second, vocab, 1);
    if (add_special_tokens) append_special(encoding, specials.sep_id, vocab, 1);
  }
  return encoding;
}

int64_t round_up_to_multiple(int64_t length, int64_t multiple) {
  if (multiple <= 0) return length;
  return (length + multiple - 1) / multiple * multiple;
}

void pad_encoding(Encoding& encoding, int64_t length, int64_t pad_id, const std::string& pad_token) {
  const auto target = static_cast<size_t>(std::max<int64_t>(length, 0));
  if (encoding.size() >= target) return;
  const size_t missing = target - encoding.size();
  encoding.ids.insert(encoding.ids.end(), missing, pad_id);
  encoding.type_ids.insert(encoding.type_ids.end(), missing, 0);
  encoding.attention_mask.insert(encoding.attention_mask.end(), missing, 0);
  encoding.special_tokens_mask.insert(encoding.special_tokens_mask.end(), missing, 1);
  encoding.tokens.insert(encoding.tokens.end(), missing, pad_token);
  encoding.offsets.insert(encoding.offsets.end(), missing, {0, 0});
  encoding.word_ids.insert(encoding.word_ids.end(), missing, -1);
  encoding.sequence_ids.insert(encoding.sequence_ids.end(), missing, -1);
}

}  // namespace graft::tokenizer
