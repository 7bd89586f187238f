#pragma once
// The WordPiece decoder of tokenizers (strip "##", else a space before the token; its per-token
// cleanup) and transformers' clean_up_tokenization over the whole string.
#include <string>
#include <string_view>
#include <vector>

namespace graft::tokenizer {

std::string decode_wordpiece(const std::vector<std::string_view>& tokens, std::string_view prefix, bool cleanup);
std::string clean_up_tokenization(std::string text);

}  // namespace graft::tokenizer
