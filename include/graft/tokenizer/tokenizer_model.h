#pragma once
// Everything a Tokenizer holds once loaded; shared, immutable, between copies of the Tokenizer.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graft/tokenizer/added_tokens.h"
#include "graft/tokenizer/normalizer.h"
#include "graft/tokenizer/wordpiece.h"

namespace graft {

struct SpecialTokenNames {
  std::string unk = "[UNK]";
  std::string sep = "[SEP]";
  std::string pad = "[PAD]";
  std::string cls = "[CLS]";
  std::string mask = "[MASK]";
};

struct TokenizerModel {
  TokenizerModel(tokenizer::NormalizerConfig normalizer_config, std::vector<std::string> vocab,
                 tokenizer::WordPieceConfig wordpiece_config, std::vector<tokenizer::AddedToken> added,
                 SpecialTokenNames names, int64_t max_length);

  // One sequence through added-token splitting, normalization, pre-tokenization and WordPiece.
  std::vector<tokenizer::Token> tokenize(std::string_view text) const;
  bool is_special_id(int64_t id) const;

  tokenizer::NormalizerConfig normalizer;
  tokenizer::WordPiece wordpiece;
  std::vector<tokenizer::AddedToken> added_tokens;
  tokenizer::AddedTokenMatcher raw_matcher;
  tokenizer::AddedTokenMatcher normalized_matcher;
  SpecialTokenNames special_names;
  int64_t cls_id, sep_id, pad_id, mask_id;
  int64_t model_max_length;
  bool decoder_cleanup = true;               // tokenizer.json decoder.cleanup
  bool clean_up_tokenization_spaces = false;  // tokenizer_config.json, transformers' extra pass

 private:
  void tokenize_plain(std::u32string_view chars, int64_t origin_base, int64_t& word_index,
                      std::vector<tokenizer::Token>& out) const;
};

// loading.cpp
std::shared_ptr<const TokenizerModel> load_tokenizer_model(const std::string& dir);
void save_tokenizer_model(const TokenizerModel& model, const std::string& dir);

}  // namespace graft
