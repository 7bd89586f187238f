#include "graft/data/masked_lm_data.h"

#include <algorithm>
#include <numeric>

#include "graft/core/error.h"

namespace graft {
namespace {

constexpr const char* kWhere = "pretrain";

void append_block(TokenBlocks& blocks, const int64_t* body, int64_t length, int64_t cls, int64_t sep) {
  blocks.ids.push_back(cls);
  blocks.ids.insert(blocks.ids.end(), body, body + length);
  blocks.ids.push_back(sep);
}

TokenBlocks blocks_at(const TokenBlocks& blocks, const std::vector<int64_t>& rows) {
  TokenBlocks picked;
  picked.block_size = blocks.block_size;
  for (int64_t row : rows) {
    const auto begin = blocks.ids.begin() + row * blocks.block_size;
    picked.ids.insert(picked.ids.end(), begin, begin + blocks.block_size);
  }
  picked.tokens_read = static_cast<int64_t>(picked.ids.size());
  return picked;
}

}  // namespace

TokenBlocks tokenize_into_blocks(const std::vector<std::string>& texts, const Tokenizer& tokenizer,
                                 int64_t block_size) {
  check(block_size >= 3, kWhere, "the block size must be at least 3 tokens, got " + std::to_string(block_size));
  EncodeOptions options;
  options.add_special_tokens = false;
  std::vector<int64_t> stream;
  for (const std::string& text : texts) {
    const Encoding encoding = tokenizer.encode(text, options);
    stream.insert(stream.end(), encoding.ids.begin(), encoding.ids.end());
  }
  const int64_t body = block_size - 2;
  const auto total = static_cast<int64_t>(stream.size());
  check(total >= body, kWhere,
        "the corpus has " + std::to_string(total) + " tokens, fewer than one block of " + std::to_string(block_size));
  TokenBlocks blocks;
  blocks.block_size = block_size;
  blocks.tokens_read = total;
  blocks.ids.reserve(static_cast<size_t>(total / body * block_size));
  for (int64_t start = 0; start + body <= total; start += body) {
    append_block(blocks, stream.data() + start, body, tokenizer.cls_id(), tokenizer.sep_id());
  }
  return blocks;
}

std::pair<TokenBlocks, TokenBlocks> split_blocks(const TokenBlocks& blocks, double fraction, uint64_t seed) {
  check(fraction >= 0.0 && fraction < 1.0, kWhere,
        "the held-out fraction must be in [0, 1), got " + std::to_string(fraction));
  const int64_t count = blocks.count();
  int64_t held_out = static_cast<int64_t>(static_cast<double>(count) * fraction);
  if (fraction > 0.0) held_out = std::max<int64_t>(held_out, 1);
  check(held_out < count, kWhere,
        "holding out " + std::to_string(held_out) + " of " + std::to_string(count) + " blocks leaves none to train on");
  std::vector<int64_t> order = shuffled_order(count, seed, 0);
  std::vector<int64_t> kept(order.begin() + held_out, order.end());
  std::vector<int64_t> evaluated(order.begin(), order.begin() + held_out);
  std::sort(kept.begin(), kept.end());
  std::sort(evaluated.begin(), evaluated.end());
  return {blocks_at(blocks, kept), blocks_at(blocks, evaluated)};
}

MaskedLMSource::MaskedLMSource(TokenBlocks blocks, int64_t batch_size, const Tokenizer& tokenizer,
                               MaskingOptions masking, bool dynamic, uint64_t seed)
    : blocks_(std::move(blocks)),
      batch_size_(batch_size),
      special_ids_{tokenizer.cls_id(), tokenizer.sep_id(), tokenizer.pad_id()},
      mask_id_(tokenizer.mask_id()),
      vocab_size_(tokenizer.vocab_size()),
      masking_(masking),
      dynamic_(dynamic),
      seed_(seed) {
  check(blocks_.count() > 0, kWhere, "no token blocks");
  check(batch_size_ > 0, kWhere, "batch size must be positive, got " + std::to_string(batch_size_));
  check(mask_id_ >= 0, kWhere, "the tokenizer has no mask token");
}

int64_t MaskedLMSource::batches_per_epoch() const {
  return (blocks_.count() + batch_size_ - 1) / batch_size_;
}

Batch MaskedLMSource::batch(int64_t epoch, int64_t index) const {
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(blocks_.count(), begin + batch_size_);
  check(begin < end, kWhere, "batch " + std::to_string(index) + " is past the end of the corpus");
  std::vector<int64_t> rows(static_cast<size_t>(end - begin));
  if (dynamic_) {
    const std::vector<int64_t> order = shuffled_order(blocks_.count(), seed_, epoch);
    std::copy(order.begin() + begin, order.begin() + end, rows.begin());
  } else {
    std::iota(rows.begin(), rows.end(), begin);
  }
  const TokenBlocks picked = blocks_at(blocks_, rows);
  const int64_t length = blocks_.block_size;
  Batch batch;
  batch.input_ids = Tensor::from_vector(picked.ids, {end - begin, length});
  batch.attention_mask = Tensor::from_vector(std::vector<int64_t>(picked.ids.size(), 1), {end - begin, length});
  // One stream per (epoch, batch) when masking is dynamic, per batch otherwise, all forked from a branch
  // of their own so that they never coincide with the shuffling streams.
  constexpr uint64_t kMaskingBranch = 0x6d61736bULL;
  const uint64_t stream = (dynamic_ ? static_cast<uint64_t>(epoch) << 40U : 0U) | static_cast<uint64_t>(index);
  Generator generator = Generator(seed_).fork(kMaskingBranch).fork(stream);
  mask_tokens(batch, special_ids_, mask_id_, vocab_size_, generator, masking_);
  return batch;
}

}  // namespace graft
