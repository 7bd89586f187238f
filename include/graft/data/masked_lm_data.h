#pragma once
// Masked-LM pretraining data as transformers' run_mlm.py prepares it: the corpus tokenized, concatenated
// and cut into blocks of block_size tokens, each "[CLS] ... [SEP]"; then masked with BERT's 80/10/10 rule.
// Training batches are masked afresh every epoch (dynamic masking, as RoBERTa); evaluation batches keep
// the same masks, so that evaluations compare.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graft/data/batch_source.h"
#include "graft/data/collator.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

// Equal-length token blocks, row-major.
struct TokenBlocks {
  std::vector<int64_t> ids;
  int64_t block_size = 0;
  int64_t tokens_read = 0;  // tokens of the corpus before blocking (the tail shorter than a block is dropped)

  int64_t count() const { return block_size == 0 ? 0 : static_cast<int64_t>(ids.size()) / block_size; }
};

// Tokenizes the texts without special tokens, concatenates them, and cuts [CLS] + (block_size - 2)
// tokens + [SEP] blocks. Throws graft::Error when the texts do not fill a single block.
TokenBlocks tokenize_into_blocks(const std::vector<std::string>& texts, const Tokenizer& tokenizer, int64_t block_size);

// A seeded random share `fraction` of the blocks (at least one when fraction > 0) held out for evaluation:
// {kept, held_out}.
std::pair<TokenBlocks, TokenBlocks> split_blocks(const TokenBlocks& blocks, double fraction, uint64_t seed);

class MaskedLMSource : public BatchSource {
 public:
  // dynamic: shuffle the blocks and draw new masks every epoch (training); otherwise a fixed order and
  // fixed masks (evaluation).
  MaskedLMSource(TokenBlocks blocks, int64_t batch_size, const Tokenizer& tokenizer, MaskingOptions masking,
                 bool dynamic, uint64_t seed);
  int64_t batches_per_epoch() const override;
  Batch batch(int64_t epoch, int64_t index) const override;
  int64_t examples() const override { return blocks_.count(); }

 private:
  TokenBlocks blocks_;
  int64_t batch_size_;
  std::vector<int64_t> special_ids_;
  int64_t mask_id_;
  int64_t vocab_size_;
  MaskingOptions masking_;
  bool dynamic_;
  uint64_t seed_;
};

}  // namespace graft
