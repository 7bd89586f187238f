#include "graft/tokenizer/decoder.h"

#include <array>
#include <utility>

namespace graft::tokenizer {

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t position = text.find(from); position != std::string::npos; position = text.find(from, position + to.size()))
    text.replace(position, from.size(), to);
}

// The replacements of transformers' clean_up_tokenization, in its order.
constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kCleanups{{
    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}};

}  // namespace

std::string clean_up_tokenization(std::string text) {
  for (const auto& [from, to] : kCleanups) replace_all(text, from, to);
  return text;
}

std::string decode_wordpiece(const std::vector<std::string_view>& tokens, std::string_view prefix, bool cleanup) {
  std::string out;
  std::string piece;
  for (size_t i = 0; i < tokens.size(); ++i) {
    piece.clear();
    if (i == 0) {
      piece = tokens[i];
    } else if (!prefix.empty() && tokens[i].starts_with(prefix)) {
      piece = tokens[i].substr(prefix.size());
    } else {
      piece.append(" ").append(tokens[i]);
    }
    if (cleanup) {
      // tokenizers' cleanup, applied to each token on its own; " do not" -> " don't" can never match one.
      for (const auto& [from, to] : kCleanups) replace_all(piece, from, to);
    }
    out += piece;
  }
  return out;
}

}  // namespace graft::tokenizer
