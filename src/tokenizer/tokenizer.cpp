#include "graft/tokenizer/tokenizer.h"

#include <algorithm>
#include <limits>

#include "graft/core/error.h"
#include "graft/tokenizer/decoder.h"
#include "graft/tokenizer/post_processor.h"
#include "graft/tokenizer/pre_tokenizer.h"
#include "graft/tokenizer/tokenizer_model.h"
#include "graft/tokenizer/utf8.h"

namespace graft {

using tokenizer::Token;

namespace {

int64_t required_id(const tokenizer::WordPiece& vocab, const std::string& token, const char* role) {
  const int64_t id = vocab.token_to_id(token);
  check(id >= 0, "tokenizer", std::string(role) + " token '" + token + "' is not in the vocabulary");
  return id;
}

}  // namespace

TokenizerModel::TokenizerModel(tokenizer::NormalizerConfig normalizer_config, std::vector<std::string> vocab,
                               tokenizer::WordPieceConfig wordpiece_config, std::vector<tokenizer::AddedToken> added,
                               SpecialTokenNames names, int64_t max_length)
    : normalizer(normalizer_config),
      wordpiece(std::move(vocab), std::move(wordpiece_config)),
      added_tokens(std::move(added)),
      raw_matcher(added_tokens, false),
      normalized_matcher(added_tokens, true),
      special_names(std::move(names)),
      cls_id(required_id(wordpiece, special_names.cls, "cls")),
      sep_id(required_id(wordpiece, special_names.sep, "sep")),
      pad_id(required_id(wordpiece, special_names.pad, "pad")),
      mask_id(required_id(wordpiece, special_names.mask, "mask")),
      model_max_length(max_length) {
  for (const auto& token : added_tokens)
    check(token.id >= 0 && token.id < wordpiece.size() && wordpiece.id_to_token(token.id) == token.content,
          "tokenizer", "added token '" + token.content + "' with id " + std::to_string(token.id) +
                           " does not match the vocabulary");
}

bool TokenizerModel::is_special_id(int64_t id) const {
  return std::any_of(added_tokens.begin(), added_tokens.end(),
                     [id](const auto& token) { return token.special && token.id == id; });
}

void TokenizerModel::tokenize_plain(std::u32string_view chars, int64_t origin_base, int64_t& word_index,
                                    std::vector<Token>& out) const {
  if (chars.empty()) return;
  // Reused between calls so that the hot path allocates nothing once warm.
  thread_local tokenizer::NormalizedText normalized;
  thread_local std::vector<tokenizer::CharRange> words;
  tokenizer::normalize(normalizer, chars, origin_base, normalized);
  const auto add_words = [&](size_t begin, size_t end) {
    words.clear();
    tokenizer::pre_tokenize(normalized.chars, begin, end, words);
    for (const auto& word : words) wordpiece.tokenize_word(normalized, word, word_index++, out);
  };
  size_t cursor = 0;
  for (const auto& match : normalized_matcher.find(normalized.chars)) {
    add_words(cursor, match.begin);
    out.push_back({match.id, normalized.origins[match.begin], normalized.origins[match.end - 1] + 1, word_index++});
    cursor = match.end;
  }
  add_words(cursor, normalized.chars.size());
}

std::vector<Token> TokenizerModel::tokenize(std::string_view text) const {
  const std::u32string chars = tokenizer::decode_utf8(text);
  const std::u32string_view view(chars);
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 4);
  int64_t word_index = 0;
  size_t cursor = 0;
  for (const auto& match : raw_matcher.find(view)) {
    tokenize_plain(view.substr(cursor, match.begin - cursor), static_cast<int64_t>(cursor), word_index, out);
    out.push_back({match.id, static_cast<int64_t>(match.begin), static_cast<int64_t>(match.end), word_index++});
    cursor = match.end;
  }
  tokenize_plain(view.substr(cursor), static_cast<int64_t>(cursor), word_index, out);
  return out;
}

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerModel> model) : model_(std::move(model)) {
  check(model_ != nullptr, "tokenizer", "no tokenizer model given");
}

Tokenizer Tokenizer::from_pretrained(const std::string& dir) { return Tokenizer(load_tokenizer_model(dir)); }

void Tokenizer::save_pretrained(const std::string& dir) const { save_tokenizer_model(*model_, dir); }

namespace {

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

int64_t resolve_max_length(const EncodeOptions& options, int64_t model_max_length, const char* purpose) {
  const int64_t max_length = options.max_length.value_or(model_max_length);
  check(max_length != kNoLimit, "tokenizer",
        std::string(purpose) + " needs max_length: none was given and the tokenizer has no model_max_length");
  check(max_length >= 0, "tokenizer", "max_length must not be negative, got " + std::to_string(max_length));
  return max_length;
}

// transformers truncates with longest_first when only max_length is given (and no padding).
Truncation effective_truncation(const EncodeOptions& options) {
  if (options.truncation == Truncation::None && options.max_length && options.padding == Padding::None)
    return Truncation::LongestFirst;
  return options.truncation;
}

Encoding finish_encoding(const TokenizerModel& model, std::vector<Token>& first, std::vector<Token>* second,
                         const EncodeOptions& options) {
  const Truncation strategy = effective_truncation(options);
  if (strategy != Truncation::None) {
    const int64_t max_length = resolve_max_length(options, model.model_max_length, "truncation");
    const int64_t specials = options.add_special_tokens ? (second ? 3 : 2) : 0;
    check(max_length >= specials, "tokenizer",
          "max_length " + std::to_string(max_length) + " leaves no room for the " + std::to_string(specials) +
              " special tokens");
    tokenizer::truncate_sequences(first, second, max_length - specials, strategy);
  }
  Encoding encoding = tokenizer::assemble_encoding(first, second, options.add_special_tokens,
                                                   {model.cls_id, model.sep_id}, model.wordpiece);
  if (options.padding == Padding::MaxLength) {
    const int64_t max_length = resolve_max_length(options, model.model_max_length, "padding to max_length");
    tokenizer::pad_encoding(encoding, tokenizer::round_up_to_multiple(max_length, options.pad_to_multiple_of),
                            model.pad_id, model.special_names.pad);
  }
  return encoding;
}

void pad_to_longest(std::vector<Encoding>& encodings, const TokenizerModel& model, const EncodeOptions& options) {
  if (options.padding != Padding::Longest) return;
  size_t longest = 0;
  for (const auto& encoding : encodings) longest = std::max(longest, encoding.size());
  const int64_t target = tokenizer::round_up_to_multiple(static_cast<int64_t>(longest), options.pad_to_multiple_of);
  for (auto& encoding : encodings) tokenizer::pad_encoding(encoding, target, model.pad_id, model.special_names.pad);
}

}  // namespace

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  auto first = model_->tokenize(text);
  std::vector<Encoding> single{finish_encoding(*model_, first, nullptr, options)};
  pad_to_longest(single, *model_, options);
  return std::move(single.front());
}

Encoding Tokenizer::encode_pair(std::string_view first_text, std::string_view second_text,
                                const EncodeOptions& options) const {
  auto first = model_->tokenize(first_text);
  auto second = model_->tokenize(second_text);
  std::vector<Encoding> single{finish_encoding(*model_, first, &second, options)};
  pad_to_longest(single, *model_, options);
  return std::move(single.front());
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options,
                                              const std::vector<std::string>* pairs) const {
  check(!pairs || pairs->size() == texts.size(), "tokenizer",
        "encode_batch got " + std::to_string(texts.size()) + " texts but " +
            std::to_string(pairs ? pairs->size() : 0) + " pair texts");
  std::vector<Encoding> encodings;
  encodings.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto first = model_->tokenize(texts[i]);
    if (pairs) {
      auto second = model_->tokenize((*pairs)[i]);
      encodings.push_back(finish_encoding(*model_, first, &second, options));
    } else {
      encodings.push_back(finish_encoding(*model_, first, nullptr, options));
    }
  }
  pad_to_longest(encodings, *model_, options);
  return encodings;
}

std::vector<Encoding> Tokenizer::encode_windows(std::string_view text, int64_t max_length, int64_t stride) const {
  check(max_length > 2, "tokenizer", "encode_windows needs max_length > 2, got " + std::to_string(max_length));
  check(stride >= 0, "tokenizer", "stride must not be negative, got " + std::to_string(stride));
  const auto tokens = model_->tokenize(text);
  std::vector<Encoding> windows;
  for (const auto& [begin, end] : tokenizer::window_ranges(tokens.size(), static_cast<size_t>(max_length - 2),
                                                           static_cast<size_t>(stride))) {
    const std::vector<Token> window(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                                    tokens.begin() + static_cast<std::ptrdiff_t>(end));
    windows.push_back(
        tokenizer::assemble_encoding(window, nullptr, true, {model_->cls_id, model_->sep_id}, model_->wordpiece));
  }
  return windows;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    const std::string& token = model_->wordpiece.id_to_token(id);
    if (!(skip_special_tokens && model_->is_special_id(id))) tokens.push_back(token);
  }
  std::string text = tokenizer::decode_wordpiece(tokens, model_->wordpiece.config().continuing_subword_prefix,
                                                 model_->decoder_cleanup);
  return model_->clean_up_tokenization_spaces ? tokenizer::clean_up_tokenization(std::move(text)) : text;
}

int64_t Tokenizer::token_to_id(std::string_view token) const { return model_->wordpiece.token_to_id(token); }
const std::string& Tokenizer::id_to_token(int64_t id) const { return model_->wordpiece.id_to_token(id); }
int64_t Tokenizer::pad_id() const { return model_->pad_id; }
int64_t Tokenizer::cls_id() const { return model_->cls_id; }
int64_t Tokenizer::sep_id() const { return model_->sep_id; }
int64_t Tokenizer::mask_id() const { return model_->mask_id; }
int64_t Tokenizer::unk_id() const { return model_->wordpiece.unk_id(); }
int64_t Tokenizer::vocab_size() const { return model_->wordpiece.size(); }
int64_t Tokenizer::model_max_length() const { return model_->model_max_length; }

}  // namespace graft
