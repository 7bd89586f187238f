#pragma once
// After WordPiece: truncation (the algorithm of tokenizers' truncate_encodings), BertProcessing
// ([CLS] A [SEP] / [CLS] A [SEP] B [SEP]), padding, and the windows of return_overflowing_tokens.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graft/tokenizer/tokenizer.h"
#include "graft/tokenizer/wordpiece.h"

namespace graft::tokenizer {

// Shortens the sequences so that together they hold at most `budget` tokens (specials excluded).
void truncate_sequences(std::vector<Token>& first, std::vector<Token>* second, int64_t budget, Truncation strategy);

// [begin, end) token ranges of the windows over `length` tokens, each at most `window` long,
// consecutive windows sharing `stride` tokens.
std::vector<std::pair<size_t, size_t>> window_ranges(size_t length, size_t window, size_t stride);

struct SpecialTokens {
  int64_t cls_id;
  int64_t sep_id;
};

Encoding assemble_encoding(const std::vector<Token>& first, const std::vector<Token>* second,
                           bool add_special_tokens, const SpecialTokens& specials, const WordPiece& vocab);

int64_t round_up_to_multiple(int64_t length, int64_t multiple);

// Pads on the right to `length` with the pad token (type id 0, attention 0).
void pad_encoding(Encoding& encoding, int64_t length, int64_t pad_id, const std::string& pad_token);

}  // namespace graft::tokenizer
