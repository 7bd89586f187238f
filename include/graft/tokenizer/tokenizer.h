#pragma once
// The BERT WordPiece tokenizer, with the behaviour of Hugging Face BertTokenizerFast:
// added tokens split first -> BertNormalizer -> BertPreTokenizer -> WordPiece -> BertProcessing,
// then truncation and padding. Offsets are [start, end) in code points of the original text.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace graft {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;
  std::vector<int64_t> attention_mask;
  std::vector<int64_t> special_tokens_mask;  // 1 for [CLS]/[SEP] added by the post-processor and padding
  std::vector<std::string> tokens;
  std::vector<std::pair<int64_t, int64_t>> offsets;  // (0, 0) for added specials and padding
  std::vector<int64_t> word_ids;      // index of the pre-token within its sequence; -1 for specials
  std::vector<int64_t> sequence_ids;  // 0, 1, or -1 for specials and padding

  size_t size() const { return ids.size(); }
};

enum class Truncation { None, LongestFirst, OnlyFirst, OnlySecond };
enum class Padding { None, Longest, MaxLength };

struct EncodeOptions {
  bool add_special_tokens = true;
  // Without a value, truncation and max_length padding use model_max_length (as transformers).
  std::optional<int64_t> max_length;
  Truncation truncation = Truncation::None;
  Padding padding = Padding::None;
  int64_t pad_to_multiple_of = 0;
};

struct TokenizerModel;  // the loaded pipeline (tokenizer_model.h)

class Tokenizer {
 public:
  // Reads tokenizer.json when present, else vocab.txt + tokenizer_config.json.
  static Tokenizer from_pretrained(const std::string& dir);
  explicit Tokenizer(std::shared_ptr<const TokenizerModel> model);

  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  Encoding encode_pair(std::string_view first, std::string_view second, const EncodeOptions& options = {}) const;
  // Padding::Longest pads every encoding to the longest of the batch.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options,
                                     const std::vector<std::string>* pairs = nullptr) const;
  // Overlapping windows of at most max_length tokens (specials included) whose contents overlap by
  // `stride` tokens, as transformers' return_overflowing_tokens=True with stride.
  std::vector<Encoding> encode_windows(std::string_view text, int64_t max_length, int64_t stride) const;

  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  int64_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string& id_to_token(int64_t id) const;
  int64_t pad_id() const;
  int64_t cls_id() const;
  int64_t sep_id() const;
  int64_t mask_id() const;
  int64_t unk_id() const;
  int64_t vocab_size() const;
  int64_t model_max_length() const;

  // Writes vocab.txt, tokenizer_config.json, special_tokens_map.json and tokenizer.json.
  void save_pretrained(const std::string& dir) const;

 private:
  std::shared_ptr<const TokenizerModel> model_;
};

}  // namespace graft
