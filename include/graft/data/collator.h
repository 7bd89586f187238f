#pragma once
// Turning tokenizer encodings into model batches, as transformers' DataCollatorWithPadding (dynamic
// padding to the longest of the batch) and DataCollatorForLanguageModeling (BERT's 80/10/10 masking) do.
#include <cstdint>
#include <vector>

#include "graft/core/random.h"
#include "graft/data/batch.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

// The label transformers' losses ignore (padding, special tokens, positions not chosen for masking).
inline constexpr int64_t kIgnoreIndex = -100;

// input_ids, attention_mask and token_type_ids as I64 [B, T], T being the longest encoding rounded up to
// a multiple of pad_to_multiple_of (when positive). Padding is pad_id, mask 0, segment 0.
Batch pad_batch(const std::vector<const Encoding*>& encodings, int64_t pad_id, int64_t pad_to_multiple_of = 0);

// The encodings packed one after another for inference (Batch::packed): input_ids and token_type_ids I64 [N]
// over their N tokens, sequence_offsets I64 [B+1]. Padding (attention mask 0, on either side) is left out, so a
// padded encoding packs as its unpadded self; graft::Error for an encoding with no token left.
Batch pack_batch(const std::vector<const Encoding*>& encodings);

// Sorts [first, last), indices into encodings, by encoding length, longest first, ties in their given order.
void sort_longest_first(std::vector<int64_t>::iterator first, std::vector<int64_t>::iterator last,
                        const std::vector<Encoding>& encodings);
// All indices of the encodings, longest first: batches cut from this order pad very little (for evaluation
// and inference, where the order of examples does not matter).
std::vector<int64_t> longest_first_order(const std::vector<Encoding>& encodings);

// Sequence classification: I64 [B] class ids.
void set_class_labels(Batch& batch, const std::vector<int64_t>& labels);
// Regression and multi-label targets, row-major: F32 [B] when columns is 1, [B, columns] otherwise.
void set_float_labels(Batch& batch, const std::vector<float>& values, int64_t columns);
// Token classification: I64 [B, T], each row padded with kIgnoreIndex to the batch's length.
void set_token_labels(Batch& batch, const std::vector<std::vector<int64_t>>& per_token_labels);

struct MaskingOptions {
  double mlm_probability = 0.15;  // share of the eligible positions chosen for prediction
  double mask_replace = 0.8;      // share of the chosen replaced by [MASK]
  double random_replace = 0.1;    // share of the chosen replaced by a random token; the rest stay unchanged
};

// Masked language modelling: chooses each position that is neither padding (attention_mask 0) nor one of
// special_token_ids with probability mlm_probability, sets labels to I64 [B, T] holding the original id
// at the chosen positions and kIgnoreIndex elsewhere, and replaces the chosen ids in a copy of input_ids
// (tensors sharing the old storage keep their values). The same generator state gives the same masks.
void mask_tokens(Batch& batch, const std::vector<int64_t>& special_token_ids, int64_t mask_id, int64_t vocab_size,
                 Generator& generator, const MaskingOptions& options = {});

}  // namespace graft
